"""The baseline: a bare Starlette endpoint that reads the body and answers the same 201.

It runs under the same uvicorn settings as `subgroups serve`, so the ratio of the service's
figure to this one's is the cost of everything the service does on top of the framework.

    python -m bench.baseline_app --port 8001 [--workers N]
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from subgroups.cli.serve import uvicorn_options
from subgroups.config import Settings

_CREATED = b'{"message":"success"}'


async def set_status(request: Request) -> Response:
    await request.body()
    return Response(_CREATED, status_code=201, media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"message":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/subscription/status/set", set_status, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--http", help="another HTTP parser than the service's, to compare")
    args = parser.parse_args()
    options = uvicorn_options(Settings())
    if args.http:
        options["http"] = args.http
    uvicorn.run(
        "bench.baseline_app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **options,
    )


if __name__ == "__main__":
    main()
