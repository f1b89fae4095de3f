"""The dbt step's safety nets: the Dagster assets come from a manifest of the project as it is now,
and a failed build's dbt does not outlive the step (it would hold the warehouse's write lock and fail
the retry with "Could not set lock")."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

from pipelines.defs.warehouse import manifest_is_stale, stop_dbt


def _project(tmp_path: Path) -> SimpleNamespace:
    (tmp_path / "models" / "marts").mkdir(parents=True)
    (tmp_path / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    (tmp_path / "models" / "marts" / "fct.sql").write_text("select 1 as n\n", encoding="utf-8")
    (tmp_path / "target").mkdir()
    return SimpleNamespace(project_dir=tmp_path, manifest_path=tmp_path / "target" / "manifest.json")


def _age(path: Path, seconds: int) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_no_manifest_is_stale(tmp_path):
    assert manifest_is_stale(_project(tmp_path)) is True


def test_manifest_newer_than_every_project_file_is_current(tmp_path):
    project = _project(tmp_path)
    for f in (tmp_path / "dbt_project.yml", tmp_path / "models" / "marts" / "fct.sql"):
        _age(f, 120)
    project.manifest_path.write_text("{}", encoding="utf-8")
    assert manifest_is_stale(project) is False


def test_a_model_edited_after_the_manifest_makes_it_stale(tmp_path):
    project = _project(tmp_path)
    project.manifest_path.write_text("{}", encoding="utf-8")
    _age(project.manifest_path, 60)  # parsed a minute ago; the model file was written just now
    _age(tmp_path / "dbt_project.yml", 120)
    assert manifest_is_stale(project) is True


def test_a_file_outside_the_project_sources_does_not(tmp_path):
    project = _project(tmp_path)
    for f in (tmp_path / "dbt_project.yml", *(tmp_path / "models").rglob("*"), tmp_path / "models"):
        _age(f, 120)
    project.manifest_path.write_text("{}", encoding="utf-8")
    _age(project.manifest_path, 60)
    (tmp_path / "target" / "run_results.json").write_text("{}", encoding="utf-8")  # dbt's own output
    (tmp_path / "README.md").write_text("notes\n", encoding="utf-8")
    assert manifest_is_stale(project) is False


def _members(pgid: int) -> list[int]:
    """Live processes of a process group, from /proc (field 5 of stat is the group; zombies excluded)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(stat.parent.name))
    return out


def test_stop_dbt_stops_the_build_and_what_it_started(tmp_path):
    # a stand-in for the launcher's dbt: a group leader with a child of its own
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60"], start_new_session=True)
    time.sleep(0.3)
    stop_dbt(proc)
    assert proc.poll() is not None
    deadline = time.monotonic() + 10  # the group's sleeps got SIGTERM too; let the kernel finish them
    alive = ["?"]
    while alive and time.monotonic() < deadline:
        alive = _members(proc.pid)
        time.sleep(0.1)
    assert alive == []


def test_stop_dbt_leaves_a_finished_build_alone():
    proc = subprocess.Popen(["true"])
    proc.wait()
    stop_dbt(proc)  # no signal to a reused pid
    assert proc.returncode == 0


def test_a_run_starts_from_the_newest_parse_state_of_its_data_dir(tmp_path):
    from pipelines.defs.warehouse import reuse_partial_parse

    targets = tmp_path / "dbt_target"
    for name, age in (("run_a", 300), ("run_b", 60), ("run_c", 10)):
        (targets / name).mkdir(parents=True)
        if name != "run_c":  # a run that failed before dbt wrote its state
            state = targets / name / "partial_parse.msgpack"
            state.write_bytes(name.encode())
            _age(state, age)
    run = targets / "run_d"
    assert reuse_partial_parse(targets, run) == targets / "run_b" / "partial_parse.msgpack"
    assert (run / "partial_parse.msgpack").read_bytes() == b"run_b"
    # a retry of the same run keeps the state its first attempt wrote
    (run / "partial_parse.msgpack").write_bytes(b"own")
    assert reuse_partial_parse(targets, run) is None
    assert (run / "partial_parse.msgpack").read_bytes() == b"own"
    # the first run of a data dir: nothing to start from
    (tmp_path / "empty").mkdir()
    assert reuse_partial_parse(tmp_path / "empty", tmp_path / "empty" / "run") is None
