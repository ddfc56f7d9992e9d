"""The database's own ceiling: pgbench running the statement one 50-id request needs.

The script is built from the very statement the service sends (storage/postgres_subscriptions.py), with
its parameters filled in by pgbench: the same 50 consecutive external ids per transaction, walking
the same pool, flipping the state on each pass. pgbench sends it prepared, over the same number of
connections, in autocommit: what the service does, minus Python and HTTP.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.load import LoadResult, Mix
from subgroups.storage.change_records import PER_REQUEST
from subgroups.storage.postgres_subscriptions import FIRST_SHARED_PARAMETER, statement


def pgbench_path() -> str:
    found = shutil.which("pgbench") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None
    )
    if found is None:
        raise RuntimeError("pgbench not found: install the PostgreSQL client tools")
    return found


def script(*, workspace_id: int, group_pk: int, group_id: str, mix: Mix, api_key_id: int) -> str:
    batches = mix.pool // 50
    state = "CASE WHEN :pass % 2 = 0 THEN 'subscribed' ELSE 'unsubscribed' END"
    flipped = "CASE WHEN :pass % 2 = 0 THEN 'unsubscribed' ELSE 'subscribed' END"
    ids = f"ARRAY(SELECT '{mix.prefix}' || n FROM generate_series(:batch * 50, :batch * 50 + 49) n)"
    record = {
        "workspace_id": str(workspace_id),
        "subscription_group_id": f"'{group_id}'",
        "channel": "'email'",
        "new_state": state,
        "occurred_at": "now()",
        "source": "'REST API'",
        "api_key_id": str(api_key_id),
        "request_id": "'pgbench'",
        "client_ip": "'127.0.0.1'",
        "operator": "NULL",
    }
    values = {
        1: str(workspace_id),
        2: str(group_pk),
        3: ids,
        4: "NULL",
        5: "(:pass % 2 = 0)",
        6: "now()",
        7: flipped,
        **{FIRST_SHARED_PARAMETER + i: record[c] for i, c in enumerate(PER_REQUEST)},
    }
    sql = re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], statement("external_id", "email"))
    return "\n".join(
        [
            # A sequence number per transaction, unique across clients: batch and pass follow.
            "\\set i :k * :clients + :client_id",
            "\\set k :k + 1",
            f"\\set batch :i % {batches}",
            f"\\set pass :i / {batches}",
            " ".join(sql.split()) + ";",
            "",
        ]
    )


def run_pgbench(
    database_url: str, sql_script: str, *, connections: int, duration_s: int
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        path = Path(tmp) / "set_50_external_ids.sql"
        path.write_text(sql_script)
        done = subprocess.run(
            [
                pgbench_path(),
                "--no-vacuum",
                "--protocol=prepared",
                f"--client={connections}",
                "--jobs=1",
                f"--time={duration_s}",
                f"--file={path}",
                "--define=k=0",
                f"--define=clients={connections}",
                "--log",
                f"--log-prefix={Path(tmp) / 'tx'}",
                database_url,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
        latencies = sorted(
            int(line.split()[2]) for log in Path(tmp).glob("tx*") for line in log.open()
        )
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    assert tps is not None, done.stdout
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return LoadResult(
        requests=len(latencies),
        seconds=len(latencies) / float(tps.group(1)) if float(tps.group(1)) else 0.0,
        p50_ms=quantiles[49] / 1000,
        p99_ms=quantiles[98] / 1000,
        max_ms=(latencies[-1] if latencies else 0) / 1000,
        errors=int(failed.group(1)) if failed else 0,
        bad_status=0,
    )
