"""Start dbt as a child that cannot outlive the run.

dagster-dbt starts its ``dbt_executable`` with a plain ``Popen``; the warehouse asset gives it a
small launcher it writes per run (:func:`write_launcher`: this interpreter, this module, and the
run's dbt environment as an explicit mapping). The launcher puts dbt in its own process group (so
the run can stop dbt and whatever dbt starts as one group), asks the kernel to SIGKILL it when the
run's process dies (``PR_SET_PDEATHSIG``: covers a SIGKILLed run, which cannot clean up), records
the group in the run lock's children file (so the next run can stop it should it still be alive)
and then becomes dbt (``execve``: same pid, no extra process) with the run's environment added."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

PR_SET_PDEATHSIG = 1
LAUNCHER_NAME = "dbt-child"


def real_dbt() -> str:
    return str(Path(sys.executable).parent / "dbt")


def write_launcher(folder: Path, env: Mapping[str, str]) -> Path:
    """An executable in ``folder`` that runs :func:`main` with ``env`` (RW_WAREHOUSE, the run's
    children file, the Spark target ...): the dbt process receives its settings explicitly."""
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / LAUNCHER_NAME
    launcher.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from pipelines.defs.dbt_child import main\n"
        f"main(sys.argv[1:], {json.dumps(dict(env), ensure_ascii=False)!r})\n",
        encoding="utf-8",
    )
    launcher.chmod(0o700)
    return launcher


def main(argv: list[str], env_json: str = "{}") -> None:
    env = {**os.environ, **json.loads(env_json)}  # this process's own environment, plus the run's
    parent = os.getppid()
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the run lock's orphan sweep still applies
        pass
    if os.getppid() != parent:  # the run died before the death signal was armed
        sys.exit(1)
    children = env.get("RW_RUN_CHILDREN")
    if children:
        with open(children, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpgid(0)}\n")
    dbt = real_dbt()
    os.execve(dbt, [dbt, *argv], env)
