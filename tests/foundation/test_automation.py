"""The inbox sensor's cursor logic: new and changed files are noticed once, per source."""

from __future__ import annotations

import os

from pipelines.defs.automation import inbox_state, new_files_by_source


def test_inbox_state_and_changes(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "his_a").mkdir(parents=True)
    (inbox / "his_b").mkdir()
    (inbox / "his_a" / "visits_202501.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (inbox / "his_b" / "visits_202501.csv").write_text("x\n", encoding="utf-8")
    (inbox / "his_b" / ".partial").write_text("hidden upload in progress", encoding="utf-8")
    first = inbox_state(inbox)
    assert sorted(first) == ["his_a/visits_202501.csv", "his_b/visits_202501.csv"]
    assert new_files_by_source({}, first) == {
        "his_a": ["his_a/visits_202501.csv"],
        "his_b": ["his_b/visits_202501.csv"],
    }
    # nothing new: nothing to do
    assert new_files_by_source(first, inbox_state(inbox)) == {}
    # a corrected re-send (same name, new bytes) and a new month in another source
    target = inbox / "his_a" / "visits_202501.csv"
    target.write_text("a,b\n1,3\n4,5\n", encoding="utf-8")
    os.utime(target, ns=(1, 1))
    (inbox / "his_b" / "visits_202502.csv").write_text("y\n", encoding="utf-8")
    assert new_files_by_source(first, inbox_state(inbox)) == {
        "his_a": ["his_a/visits_202501.csv"],
        "his_b": ["his_b/visits_202502.csv"],
    }


def test_inbox_state_of_missing_inbox_is_empty(tmp_path):
    assert inbox_state(tmp_path / "nope") == {}
