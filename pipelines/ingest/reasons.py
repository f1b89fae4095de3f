"""Reason codes and their human sentences, loaded from ``reasons.yaml`` (data, not code)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

REASONS_FILE = Path(__file__).with_name("reasons.yaml")


@cache
def catalog() -> dict[str, Any]:
    with REASONS_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def codes(kind: str) -> list[str]:
    """The documented codes of one kind: ``file``, ``note`` or ``row``."""
    return list(catalog()[kind])


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def sentence(kind: str, code: str, **params: Any) -> str:
    """``"<code>: <中文> / <English>"`` with the placeholders filled in."""
    entry = catalog()[kind][code]
    values = _Blank({k: v for k, v in params.items() if v is not None})
    return f"{code}: {entry['zh'].format_map(values)} / {entry['en'].format_map(values)}"


class FileRejected(Exception):
    """Raised while reading a file that cannot be landed; carries a documented file-level code."""

    def __init__(self, code: str, **params: Any):
        if code not in catalog()["file"]:
            raise KeyError(f"undocumented file reason code {code!r}")
        self.code = code
        self.params = params
        super().__init__(code)
