"""The ``standardize diagnosis`` command: args, stdin, TSV, JSON lines in input order."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from pipelines.standardize import diagnosis_cli

REPO = Path(__file__).resolve().parents[3]


def _run_inprocess(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert diagnosis_cli.main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_args_print_one_json_object_each_in_order(std, monkeypatch, capsys):
    out = _run_inprocess(monkeypatch, capsys, ["高血压Ⅲ级", "asdfgh", "慢阻肺"])
    assert [o["input"] for o in out] == ["高血压Ⅲ级", "asdfgh", "慢阻肺"]
    assert [o["status"] for o in out] == ["mapped", "unmapped", "mapped"]
    assert out[0]["diagnoses"][0]["code"] == "I10xx05"
    assert out[0]["diagnoses"][0]["grade"] == 3
    assert out[1]["diagnoses"] == []
    assert out[2]["diagnoses"][0]["grade"] is None
    assert set(out[2]["diagnoses"][0]) >= {"code", "name", "icd10_category", "grade", "mapping_method"}


def test_stdin_one_text_per_line_including_empty_lines(std, monkeypatch, capsys):
    out = _run_inprocess(monkeypatch, capsys, [], stdin="房颤\n\n高血压病2级，冠心病\n")
    assert [(o["input"], o["status"]) for o in out] == [
        ("房颤", "mapped"),
        ("", "unmapped"),
        ("高血压病2级，冠心病", "mapped"),
    ]
    assert [d["code"] for d in out[2]["diagnoses"]] == ["I10xx04", "I25.105"]


def test_stdin_tsv_text_and_code(std, monkeypatch, capsys):
    out = _run_inprocess(monkeypatch, capsys, ["--tsv"], stdin="高血压3级\tI10.x00x032\n\tE11.900\n")
    assert [(d["code"], d["source_code"], d["code_system"]) for o in out for d in o["diagnoses"]] == [
        ("I10xx05", "I10.x00x032", "national_clinical_2.0"),
        ("E11.901", "E11.900", "insurance_2.0"),
    ]


def test_installed_command_end_to_end():
    """The real entry point, as a person or a script calls it (stdin -> JSON lines)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "standardize", "diagnosis"],
        input="高血压病3级(极高危)\nI10xx05\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(o["status"], o["diagnoses"][0]["code"], o["diagnoses"][0]["risk_tier"]) for o in out] == [
        ("mapped", "I10xx05", "很高危"),
        ("mapped", "I10xx05", None),
    ]
    assert out[1]["diagnoses"][0]["mapping_method"] == "exact_code"


def test_best_guess_adds_the_tuned_decision(std, monkeypatch, capsys):
    """Safe mode leaves vague symptom texts unmapped (with suggestions); --best-guess prints the learned
    matcher's tuned decision instead, and keeps what the code field placed first."""
    texts = ["头晕乏力", "左肾多发结石伴积水", "胸闷气短原因待查", "高血压3级"]
    safe = _run_inprocess(monkeypatch, capsys, texts)
    guess = _run_inprocess(monkeypatch, capsys, ["--best-guess", *texts])
    newly = [
        s["input"]
        for s, g in zip(safe, guess, strict=True)
        if s["status"] == "unmapped" and g["status"] == "mapped"
    ]
    assert len(newly) >= 2
    for s, g in zip(safe, guess, strict=True):
        assert s["status"] == "unmapped" or g["status"] == "mapped"
        assert all("/" not in d["code"] and 0 < d["confidence"] <= 1 for d in g["diagnoses"])
        if s["status"] == "unmapped":
            assert len(s["suggestions"]) <= 3


def test_best_guess_keeps_the_code_fields_placement_first(std, monkeypatch, capsys):
    out = _run_inprocess(monkeypatch, capsys, ["--best-guess", "--tsv"], stdin="头晕乏力\tI10.x00x032\n")[0]
    first = out["diagnoses"][0]
    assert (first["code"], first["source_code"], first["hypertension_grade"]) == ("I10xx05", "I10.x00x032", 3)
