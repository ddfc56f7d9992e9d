"""`subgroups worker`: the background work of `subgroups serve`, without serving HTTP."""

from __future__ import annotations

import asyncio
import logging.config
import signal

import click

from subgroups.cli.runner import NOT_MIGRATED, fail, refuse_a_missing_file, settings_for


@click.command()
@click.option("--database-url", default=None, metavar="URL")
def worker(database_url: str | None) -> None:
    """Deliver webhooks and run the imports sent over HTTP, until stopped (SIGTERM or Ctrl-C).

    `serve` does both too, unless SUBGROUPS_DELIVER_WEBHOOKS=false or SUBGROUPS_RUN_IMPORTS=false;
    any number of servers and workers share the work, each endpoint and each import served by one
    of them at a time."""
    from subgroups.container import build_services
    from subgroups.web.server.logs import logging_config

    settings = settings_for(database_url, as_json=False)
    refuse_a_missing_file(settings, as_json=False)
    logging.config.dictConfig(logging_config(settings.log_level))
    log = logging.getLogger("subgroups.worker")

    async def main() -> None:
        services = build_services(settings)
        try:
            if not await services.schema_is_current():
                fail(NOT_MIGRATED, as_json=False)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            dispatcher = services.dispatcher()
            imports = services.import_loop()
            log.info("worker started (%s)", dispatcher.owner)
            try:
                await asyncio.gather(dispatcher.run(stop), imports.run(stop))
            finally:
                await dispatcher.aclose()
            log.info("worker stopped")
        finally:
            await services.aclose()

    # uvloop where it is installed (as `serve` runs under it): a delivery costs less CPU on it.
    try:
        import uvloop
    except ImportError:  # pragma: no cover (uvicorn[standard] brings it where it builds)
        asyncio.run(main())
    else:
        uvloop.run(main())
