"""Quoting names and values into SQL text (DuckDB and Spark SQL both accept these forms)."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """``visit id`` -> ``"visit id"`` (embedded double quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: object) -> str:
    """``O'Brien`` -> ``'O''Brien'`` (embedded single quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"
