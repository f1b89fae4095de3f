"""``referral-warehouse standardize diagnosis [TEXT ...]``.

Prints one JSON object per input, in input order. With no TEXT, reads one text per line from stdin
(``--tsv``: ``text<TAB>code`` per line, either side may be empty). ``--best-guess`` prints the learned
matcher's tuned decision (benchmark mode) instead of the safe mode's ``unmapped``. Also runnable on its own:
``python -m pipelines.standardize.diagnosis_cli ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``diagnosis`` sub-subcommand under ``standardize``."""
    parser = subparsers.add_parser(
        "diagnosis",
        help="map diagnosis text/codes to the ICD-10 terminology pack (JSON lines)",
        description=(
            "Map diagnosis free text and foreign codes to the terminology pack (ICD-10 北京临床版 v601). "
            "Prints one JSON object per input: {input, status: mapped|unmapped, diagnoses: [...]}; "
            "the first diagnosis is the principal one."
        ),
    )
    _configure(parser)
    return parser


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="diagnosis texts; none = read stdin")
    parser.add_argument("--code", default=None, help="a diagnosis code that comes with the TEXT(s)")
    parser.add_argument(
        "--tsv",
        action="store_true",
        help="stdin lines are text<TAB>code (code may be empty, text may be empty)",
    )
    parser.add_argument(
        "--best-guess",
        action="store_true",
        help=(
            "add the learned matcher's tuned decision (benchmark mode, best micro-F1) for what the "
            "rules did not place; the default safe mode prefers unmapped to a wrong answer"
        ),
    )
    parser.add_argument(
        "--reviewed-mappings",
        type=Path,
        default=None,
        help="reviewed mappings CSV (default: standard/mappings/reviewed_mappings.csv)",
    )
    parser.set_defaults(handler=run)


def _inputs(args) -> list[tuple[str | None, str | None, str]]:
    """(text, code, label) triples in order."""
    if args.texts:
        return [(t, args.code, t) for t in args.texts]
    out = []
    for line in sys.stdin:
        line = line.rstrip("\r\n")
        if args.tsv:
            text, _, code = line.partition("\t")
            out.append((text or None, code or args.code, line))
        else:
            out.append((line, args.code, line))
    return out


def run(args) -> int:
    from pipelines.standardize.diagnosis import DiagnosisStandardizer

    std = DiagnosisStandardizer.default(args.reviewed_mappings)
    write = sys.stdout.write
    for text, code, _label in _inputs(args):
        result = std.standardize(text, code, best_guess=args.best_guess)
        write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="referral-warehouse standardize diagnosis")
    _configure(parser)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
