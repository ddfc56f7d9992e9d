"""The command line the benchmark suites share: a short run or the full one, and which backends."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Options:
    quick: bool
    backends: tuple[str, ...]


def parse_options(prog: str, description: str | None, argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")))
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: both")
    args = parser.parse_args(argv)
    return Options(quick=bool(args.quick), backends=tuple(args.backend or BACKENDS))
