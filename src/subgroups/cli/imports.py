"""`subgroups import FILE`: a CSV import (§10), run in this process, with a progress bar on a
terminal. Run again on the same file after an interruption, it resumes where it stopped."""

from __future__ import annotations

import gc
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from rich.progress import Progress

    from subgroups.container import Services
    from subgroups.domain.imports import ImportCounts, ImportJob


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--dry-run", is_flag=True, help="Report what the import would do; change nothing.")
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the error report (line,column,value,message) to this CSV file.",
)
@common
def import_file(
    file: Path,
    workspace_id: int,
    dry_run: bool,
    errors_path: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Import subscription states from a CSV file with Braze's columns (external_id, email,
    phone, subscription_group_id, subscription_state) and optional consented_at and
    consent_source. Never resubscribes a person who unsubscribed, unless consented_at is later."""
    show_bar = not as_json and sys.stderr.isatty()

    async def action(services: Services) -> ImportJob:
        from subgroups.services.imports import new_owner

        # What start-up made lives as long as the process: kept out of the collector's full
        # passes, which an import's millions of short-lived objects would otherwise make walk it
        # again and again (a tenth of an import's time).
        gc.freeze()
        owner = new_owner()
        with file.open("rb") as stream:
            job = await services.imports.open(
                workspace_id=workspace_id,
                file_name=file.name,
                stream=stream,
                dry_run=dry_run,
                owner=owner,
            )
            with _bar(show_bar) as bar:
                task = None if bar is None else bar.add_task("importing", total=job.total_rows)

                def progress(_job: ImportJob, counts: ImportCounts) -> None:
                    if bar is not None and task is not None:
                        bar.update(task, completed=counts.rows)

                progress(job, job.counts)
                finished = await services.imports.run(
                    job, owner=owner, stream=stream, progress=progress
                )
        if errors_path is not None:
            await _write_errors(services, finished, errors_path)
        return finished

    job = run(database_url, as_json, action)
    from subgroups.domain.imports import import_document

    emit(import_document(job), _text(job, errors_path), as_json=as_json)


def _bar(show: bool) -> Any:
    if not show:
        return nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    bar: Progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    return bar


async def _write_errors(services: Services, job: ImportJob, path: Path) -> None:
    from subgroups.services.csv_text import error_report

    with path.open("w", encoding="utf-8", newline="") as out:
        async for line in error_report(
            services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
        ):
            out.write(line)


def _text(job: ImportJob, errors_path: Path | None) -> str:
    c = job.counts
    what = "dry run of import" if job.dry_run else "import"
    lines = [
        f"{what} {job.id}: {job.status.value}, {c.rows} rows",
        f"  subscribed {c.subscribed}, unsubscribed {c.unsubscribed}, unchanged {c.unchanged}",
        f"  refused resubscriptions {c.refused}, invalid rows {c.invalid}",
        f"  profiles created {c.profiles_created}",
    ]
    if job.ignored_columns:
        lines.append(f"  ignored columns: {', '.join(job.ignored_columns)}")
    if (c.refused or c.invalid) and errors_path is not None:
        lines.append(f"  error report: {errors_path}")
    elif c.refused or c.invalid:
        lines.append("  (--errors FILE.csv writes the error report)")
    return "\n".join(lines)
