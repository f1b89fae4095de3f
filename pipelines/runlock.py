"""One run at a time per data directory.

``referral-warehouse run`` / ``land``, and the Dagster sensor and schedule, take an exclusive lock
on ``<data_dir>/.run.lock`` before they write anything. A second run on the same data dir either
exits at once with :class:`RunLockHeld` (a message in Chinese and English naming the run that holds
the dir) or, with ``wait``, waits for it.

The lock is an ``flock`` on an open file: the kernel releases it when the holding process dies,
however it dies (SIGKILL included), so a dead run can never keep the data dir locked. The lock file
also records who holds it (pid, run id, start time) and the process groups of the run's children
(dbt). A run that finds the record of a holder that is no longer alive reports the stale lock it
clears, and kills the child process groups of the dead run still alive (an orphan ``dbt build``
would keep the warehouse file locked).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".run.lock"
CHILDREN_NAME = ".run.children"  # one process-group id per line, appended by the children


class RunLockHeld(RuntimeError):
    """Another run holds the data dir."""

    def __init__(self, data_dir: Path, holder: dict):
        self.data_dir = data_dir
        self.holder = holder
        who = f"run id {holder.get('run_id') or '?'}, pid {holder.get('pid') or '?'}"
        since = holder.get("started_at") or "?"
        super().__init__(
            f"另一批次正在运行（{who}，开始于 {since}），数据目录 {data_dir} 被占用；请等它结束后再运行，"
            f"或加 --wait 排队等待。 / another run is already running ({who}, started {since}) and holds "
            f"the data dir {data_dir}; run again when it has finished, or use --wait to queue behind it."
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return {"corrupt": raw[:200].decode("utf-8", "replace")}


def _write(fd: int, record: dict) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record, ensure_ascii=False).encode("utf-8"))
    os.fsync(fd)


def holder(data_dir: Path) -> dict | None:
    """The record of the run holding ``data_dir`` now, or None when it is free."""
    path = Path(data_dir) / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _is_dbt(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dbt" in cmdline


def stop_process_group(pgid: int, wait_s: float, gone: Callable[[], bool] | None = None) -> bool:
    """SIGTERM the process group ``pgid``, wait up to ``wait_s`` seconds for it to end (``gone``
    tells, else the group no longer exists), then SIGKILL it. False when there was no such group to
    signal (it had ended, or is not ours)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False

    def group_gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    ended = gone or group_gone
    deadline = time.monotonic() + wait_s
    while not ended():
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            break
        time.sleep(0.1)
    return True


def _kill_orphans(data_dir: Path, log: Callable[[str], None]) -> list[int]:
    """Kill the process groups a dead run's children recorded (they outlived the run)."""
    path = data_dir / CHILDREN_NAME
    killed = []
    if not path.exists():
        return killed
    for line in path.read_text(encoding="utf-8").split():
        try:
            pgid = int(line)
        except ValueError:
            continue
        if pgid <= 1 or pgid == os.getpgid(0) or not _is_dbt(pgid):
            continue  # gone, or the id was reused by an unrelated process
        if not stop_process_group(pgid, wait_s=5.0):
            continue
        killed.append(pgid)
        log(f"run lock: stopped process group {pgid} left running by a dead run (orphan child)")
    path.unlink(missing_ok=True)
    return killed


def children_file(data_dir: str | Path) -> Path:
    """Where the run's children (dbt) record their process groups: handed to them explicitly
    (``RW_RUN_CHILDREN`` in the child's own environment, pipelines/defs/dbt_child.py)."""
    return Path(data_dir) / CHILDREN_NAME


_PROCESS_HOLD: dict[str, contextlib.ExitStack] = {}  # locks taken for Dagster-launched runs
_HELD_HERE: set[str] = set()  # data dirs this process holds inside a ``run_lock`` block


@contextlib.contextmanager
def run_lock(
    data_dir: str | Path,
    run_id: str | None = None,
    command: str = "run",
    wait: bool = False,
    log: Callable[[str], None] = print,
) -> Iterator[dict]:
    """Hold the data dir for the duration of the block; raises :class:`RunLockHeld` (or waits)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    earlier = _PROCESS_HOLD.pop(str(data_dir.resolve()), None)
    if earlier is not None:  # an earlier Dagster-launched run of this same process has ended
        earlier.close()
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held_by = _read(fd)
            if not wait:
                raise RunLockHeld(data_dir, held_by) from None
            log(f"run lock: waiting for run {held_by.get('run_id')} (pid {held_by.get('pid')}) to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        previous = _read(fd)
        if previous.get("pid") and not previous.get("released_at"):
            # the lock was free, yet its record names a holder: that run died without releasing it
            state = "no longer running" if not _alive(int(previous["pid"])) else "gone (pid reused)"
            log(
                f"run lock: cleared a stale lock of run {previous.get('run_id')} (pid {previous['pid']}, "
                f"started {previous.get('started_at')}, {state}) / 已清除上次异常退出批次留下的运行锁"
            )
        _kill_orphans(data_dir, log)
        record = {
            "pid": os.getpid(),
            "run_id": run_id,
            "command": command,
            "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        _write(fd, record)
        key = str(data_dir.resolve())
        _HELD_HERE.add(key)
        try:
            yield record
        finally:
            _HELD_HERE.discard(key)
            _kill_orphans(data_dir, log)
            _write(
                fd, {**record, "released_at": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
            )
    finally:
        os.close(fd)  # releases the flock


def hold_for_process(
    data_dir: str | Path, run_id: str | None, command: str, log: Callable[[str], None] = print
) -> None:
    """For runs Dagster launches itself (sensor, schedule, UI): take the lock at the run's first step
    and keep it until this process ends (the in-process executor runs every step in one process).
    A no-op when this process already holds the lock (``referral-warehouse run``)."""
    key = str(Path(data_dir).resolve())
    if key in _PROCESS_HOLD or key in _HELD_HERE:
        return
    stack = contextlib.ExitStack()
    stack.enter_context(run_lock(data_dir, run_id=run_id, command=command, log=log))
    _PROCESS_HOLD[key] = stack
    import atexit

    atexit.register(stack.close)
