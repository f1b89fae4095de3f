"""Standardization: raw landing -> std.* on the data-element standard (docs/design.md).

Public API: ``standardize_all``, ``StandardizeReport``, ``load_or_create_secret``, ``person_key``,
``load_standard``. Names are resolved lazily so that importing a sub-module stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "standardize_all": "pipelines.standardize.engine",
    "StandardizeReport": "pipelines.standardize.engine",
    "load_or_create_secret": "pipelines.standardize.secret",
    "person_key": "pipelines.standardize.secret",
    "load_standard": "pipelines.standardize.standard",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
