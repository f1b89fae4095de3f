from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """One tiny region (seed 42), shared by the read-only tests."""
    from pipelines.generate import generate

    out = tmp_path_factory.mktemp("gen_tiny")
    manifest = generate(out, scale="tiny", seed=42)
    return out, manifest
