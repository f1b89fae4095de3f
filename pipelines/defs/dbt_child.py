"""Start dbt as a child that cannot outlive the run (``pipelines/defs/dbt_child.sh`` execs this).

dagster-dbt starts ``dbt`` with a plain ``Popen``; this wrapper, given to it as the dbt executable,
puts dbt in its own process group (so the run can stop dbt and whatever dbt starts as one group),
asks the kernel to SIGKILL it when the run's process dies (``PR_SET_PDEATHSIG``: covers a SIGKILLed
run, which cannot clean up), records the group in the run lock's children file (so the next run can
stop it should it still be alive) and then becomes dbt (``execv``: same pid, no extra process)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def real_dbt() -> str:
    return str(Path(sys.executable).parent / "dbt")


def main(argv: list[str]) -> None:
    parent = os.getppid()
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the run lock's orphan sweep still applies
        pass
    if os.getppid() != parent:  # the run died before the death signal was armed
        sys.exit(1)
    children = os.environ.get("RW_RUN_CHILDREN")
    if children:
        with open(children, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpgid(0)}\n")
    dbt = real_dbt()
    os.execv(dbt, [dbt, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
