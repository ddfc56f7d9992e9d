"""One measured run, as the report shows it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    scenario: str
    backend: str
    workers: int
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    failures: int = 0  # socket errors, timeouts and non-2xx answers
    changes_per_s: float | None = None
    baseline_rps: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.rps / self.baseline_rps if self.baseline_rps else None

    def line(self) -> str:
        ratio = f"{self.ratio:.0%}" if self.ratio is not None else "-"
        changes = f"{self.changes_per_s:,.0f}" if self.changes_per_s is not None else "-"
        return (
            f"{self.scenario:<28} {self.backend:<11} w{self.workers} c{self.connections:<3}"
            f" {self.rps:>9,.0f} req/s {changes:>9} chg/s p50 {self.p50_ms:7.2f} ms"
            f" p99 {self.p99_ms:7.2f} ms fail {self.failures:<4} vs baseline {ratio} {self.note}"
        )
