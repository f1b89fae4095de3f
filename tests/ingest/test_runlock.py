"""One run at a time per data dir: a second `run` / `land` exits at once, before writing anything,
naming the run that holds the dir; a SIGKILLed holder leaves a stale record that the next run
reports and clears, and the orphaned child process group (dbt) it left is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.runlock import CHILDREN_NAME, RunLockHeld, holder, run_lock

HOLD = (
    "import sys, time\n"
    "from pipelines.runlock import run_lock\n"
    "with run_lock(sys.argv[1], run_id='run-A', command='run', log=lambda m: None):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def _start_holder(data: Path) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data)], stdout=subprocess.PIPE, text=True, env=_env()
    )
    assert p.stdout.readline().strip() == "held"
    return p


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )


def test_a_second_run_exits_at_once_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    (data / "inbox" / "his_a").mkdir(parents=True)
    (data / "inbox" / "his_a" / "visits_202401.csv").write_text("a\n1\n", encoding="utf-8")
    first = _start_holder(data)
    try:
        before = sorted(p.relative_to(data).as_posix() for p in data.rglob("*"))
        for cmd in (["run", "--data-dir", str(data)], ["land", "--data-dir", str(data)]):
            res = _cli(*cmd)
            assert res.returncode == 3, res.stderr
            assert "另一批次正在运行" in res.stderr and "another run is already running" in res.stderr
            assert f"pid {first.pid}" in res.stderr and "run-A" in res.stderr
        after = sorted(p.relative_to(data).as_posix() for p in data.rglob("*"))
        assert after == before  # no warehouse, no dagster home, nothing
        assert holder(data)["pid"] == first.pid
    finally:
        first.kill()
        first.wait()


def test_a_killed_holder_leaves_a_stale_lock_that_the_next_run_clears(tmp_path):
    data = tmp_path / "data"
    first = _start_holder(data)
    # an orphan-to-be: a "dbt" child in its own process group, recorded as the run's child
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "dbt", "build"], start_new_session=True
    )
    (data / CHILDREN_NAME).write_text(f"{orphan.pid}\n", encoding="utf-8")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert holder(data) is None  # the kernel released the lock with the dead process
    logged: list[str] = []
    with run_lock(data, run_id="run-B", log=logged.append) as rec:
        assert rec["pid"] == os.getpid()
        with pytest.raises(RunLockHeld), run_lock(data, run_id="run-C", log=logged.append):
            pass
    deadline = time.monotonic() + 10
    while orphan.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert orphan.poll() is not None, logged  # the dead run's child group was stopped
    assert any("stale lock of run run-A" in m and "no longer running" in m for m in logged), logged
    assert any(f"process group {orphan.pid}" in m for m in logged), logged
    assert holder(data) is None


def test_wait_queues_behind_the_holder(tmp_path):
    data = tmp_path / "data"
    first = _start_holder(data)
    try:
        waited = subprocess.Popen(
            [sys.executable, "-c", "import sys\nfrom pipelines.runlock import run_lock\n"
             "with run_lock(sys.argv[1], run_id='run-W', wait=True, log=print):\n    print('got it', flush=True)\n",
             str(data)],
            stdout=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        assert "waiting for run run-A" in waited.stdout.readline()
        assert waited.poll() is None  # still queued while the first run holds the dir
        first.terminate()  # SIGTERM: no clean release, so the waiter also reports a stale record
        first.wait()
        rest = [waited.stdout.readline().strip() for _ in range(2)]
        assert rest[-1] == "got it" and "stale lock of run run-A" in rest[0]
        assert waited.wait(timeout=30) == 0
    finally:
        first.kill()
        first.wait()


def test_the_sensor_and_schedule_skip_while_a_run_holds_the_data_dir(tmp_path, monkeypatch):
    from pipelines.defs import automation

    data = tmp_path / "data"
    assert automation.busy_message(data) is None
    first = _start_holder(data)
    try:
        busy = automation.busy_message(data)
        assert busy and "another run is already running" in busy and "run-A" in busy
    finally:
        first.kill()
        first.wait()
    assert automation.busy_message(data) is None


def test_stop_process_group_kills_a_group_that_ignores_sigterm():
    """One stop for the run lock's orphans and a failed dbt step: SIGTERM, wait, then SIGKILL the
    whole group (child included); nothing to signal is reported as False."""
    from pipelines.runlock import stop_process_group

    ignores_term = "import signal, subprocess, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    child = "subprocess.Popen([sys.executable, '-c', 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", ignores_term + child + "time.sleep(60)"], start_new_session=True
    )
    time.sleep(1.0)  # both have set their handlers
    started = time.monotonic()
    assert stop_process_group(proc.pid, wait_s=1.0, gone=lambda: proc.poll() is not None) is True
    proc.wait(timeout=10)
    assert 1.0 <= time.monotonic() - started < 8  # waited the grace period, then killed
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the grandchild went with the group
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the group's child survived")
    assert stop_process_group(proc.pid, wait_s=1.0) is False  # nothing left to signal
