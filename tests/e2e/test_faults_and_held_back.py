"""Faults and the held-back rule, through the real `referral-warehouse run` command on one data dir:

1. a second `run` while the first is running exits at once (status 3) with the zh/en message;
2. the first run is SIGKILLed during its dbt step: no dbt is left running;
3. the next run reports and clears the stale lock and publishes the region, while the one source's
   bad file (and that source's rows of its period) is held back and listed in the snapshot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.runlock import CHILDREN_NAME, holder

pytestmark = pytest.mark.slow

BAD = "visits_202506_part2.csv"  # his_a, period 202506: a workbook saved under a .csv name


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RW_DATA_DIR", "DAGSTER_HOME", "RW_RUN_CHILDREN")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def _run(data: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(data),
        **kw,
    )


def _live_members(pgid: int) -> list[int]:
    """pids of the process group that are alive (zombies do not count)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _dbt_group(data: Path) -> int | None:
    path = data / CHILDREN_NAME
    if not path.exists():
        return None
    for line in path.read_text().split():
        pgid = int(line)
        try:
            cmd = Path(f"/proc/{pgid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"dbt" in cmd and b"build" in cmd and _live_members(pgid):
            return pgid
    return None


def test_concurrent_run_sigkill_during_dbt_then_publish_with_held_back_file(tmp_path):
    from pipelines.generate import generate

    data = tmp_path / "data"
    generate(data, scale="tiny", seed=7)
    (data / "inbox" / "his_a" / BAD).write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8)

    first = _run(data)
    try:
        deadline = time.monotonic() + 300
        while holder(data) is None and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.5)
        # 1. a second run on the same data dir, while the first holds it
        second = _run(data)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 3, err
        assert "另一批次正在运行" in err and "another run is already running" in err
        assert f"pid {first.pid}" in err

        # 2. SIGKILL the first run while dbt builds
        deadline = time.monotonic() + 1200
        pgid = None
        while pgid is None and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read()
            pgid = _dbt_group(data)
            time.sleep(0.5)
        assert pgid is not None, "dbt never started"
        first.send_signal(signal.SIGKILL)
        first.wait()
        deadline = time.monotonic() + 30
        while _live_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _live_members(pgid) == []  # no orphan dbt holding the warehouse
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    # 3. the next run clears the stale lock, publishes, and holds back only his_a's 202506
    third = _run(data)
    _, err = third.communicate(timeout=3000)
    assert third.returncode == 0, err[-3000:]
    assert "cleared a stale lock" in err
    assert not list((data / "published").rglob("*.tmp"))
    snap = duckdb.connect(str(data / "published" / "current.duckdb"), read_only=True)
    held = snap.execute(
        "select source_id, period, file_name, split_part(reason, ':', 1), files_withheld from ingest.held_back"
    ).fetchall()
    n_values = snap.execute("select count(*) from marts.indicator_values").fetchone()[0]
    snap.close()
    assert len(held) == 1 and held[0][:4] == ("his_a", "202506", BAD, "binary_file")
    assert held[0][4] == 3  # his_a's visits, followups and contracts of 202506
    assert n_values > 0  # the region is published
    wh = duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"), read_only=True)
    per_source = dict(
        wh.execute(
            "select f.source_id || '/' || f.period, count(*) from std.visits v "
            "join raw.files f on f.file_id = v.file_id and f.status = 'landed' "
            "where f.period in ('202505', '202506') group by all"
        ).fetchall()
    )
    wh.close()
    assert "his_a/202506" not in per_source  # held back
    assert per_source["his_a/202505"] > 0 and per_source["his_b/202506"] > 0  # everything else is there
    assert holder(data) is None
