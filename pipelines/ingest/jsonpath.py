"""The JSON paths a jsonl source YAML uses to name its columns, compiled to DuckDB SQL.

Grammar (deliberately small; it covers what HIS JSON exports need)::

    path     := step ("." step)*
    step     := key selector*
    key      := one or more characters other than . [ ] " '
    selector := "[" INT "]"            0-based array index      e.g. diagnoses[0].code
              | "[" key "=" value "]"  first array element whose key equals value
                                                               e.g. events[type=accept].time

Examples: ``referral_no``, ``patient.id_no``, ``events[type=accept].time``.
The value of a path is the JSON text of what it points at: strings unquoted, numbers and booleans as
written, objects/arrays as JSON, missing or null -> NULL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pipelines.contracts.sql import quote_literal

_KEY = r"[^.\[\]\"'=]+"
_STEP = re.compile(rf"^(?P<key>{_KEY})(?P<sel>(\[[^\]]*\])*)$")
_SEL = re.compile(r"\[([^\]]*)\]")


class JsonPathError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    key: str
    selectors: tuple[int | tuple[str, str], ...] = ()


def parse(path: str) -> tuple[Step, ...]:
    if not path or path != path.strip():
        raise JsonPathError(f"bad JSON path {path!r}: empty or surrounded by spaces")
    steps = []
    for part in path.split("."):
        m = _STEP.match(part)
        if not m:
            raise JsonPathError(f"bad JSON path {path!r}: cannot read step {part!r}")
        sels: list[int | tuple[str, str]] = []
        for raw in _SEL.findall(m.group("sel")):
            if re.fullmatch(r"\d+", raw):
                sels.append(int(raw))
            elif re.fullmatch(rf"{_KEY}={_KEY}", raw):
                k, v = raw.split("=", 1)
                sels.append((k, v))
            else:
                raise JsonPathError(
                    f"bad JSON path {path!r}: selector [{raw}] is neither [n] nor [key=value]"
                )
        steps.append(Step(m.group("key"), tuple(sels)))
    return tuple(steps)


def top_key(path: str) -> str:
    return parse(path)[0].key


_lit = quote_literal


def _key_path(key: str) -> str:
    return '."' + key + '"'


def to_sql(path: str, column: str = "j") -> str:
    """A DuckDB expression (VARCHAR) extracting ``path`` from the JSON text in ``column``."""
    expr = column
    pending = "$"  # JSONPath accumulated on top of expr
    for step in parse(path):
        pending += _key_path(step.key)
        for sel in step.selectors:
            if isinstance(sel, int):
                pending += f"[{sel}]"
            else:
                k, v = sel
                arr = f"json_extract({expr}, {_lit(pending + '[*]')})"
                cond = f"json_extract_string(x, {_lit('$' + _key_path(k))}) = {_lit(v)}"
                expr = f"list_filter({arr}, lambda x: {cond})[1]"
                pending = "$"
    return f"json_extract_string({expr}, {_lit(pending)})"


def evaluate(path: str, doc: Any) -> str | None:
    """The same semantics in Python (reference implementation for tests and for error messages)."""
    cur = doc
    for step in parse(path):
        if not isinstance(cur, dict) or step.key not in cur:
            return None
        cur = cur[step.key]
        for sel in step.selectors:
            if not isinstance(cur, list):
                return None
            if isinstance(sel, int):
                if sel >= len(cur):
                    return None
                cur = cur[sel]
            else:
                k, v = sel
                hits = [x for x in cur if isinstance(x, dict) and _as_text(x.get(k)) == v]
                if not hits:
                    return None
                cur = hits[0]
    return _as_text(cur)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
