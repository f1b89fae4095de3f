"""Shared fixtures for the diagnosis standardizer tests: the real pack and standardizer, loaded once."""

from __future__ import annotations

import pytest

from pipelines.standardize.diagnosis import DiagnosisStandardizer
from pipelines.standardize.terminology.pack import TerminologyPack


@pytest.fixture(scope="session")
def std() -> DiagnosisStandardizer:
    return DiagnosisStandardizer.default()


@pytest.fixture(scope="session")
def pack(std) -> TerminologyPack:
    return std.pack
