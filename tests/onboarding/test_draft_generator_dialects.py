"""A measurement on headers the synonym list was not written from: `sources draft` on the first file
of every entity of the sample generator's HIS dialects, against the project's own source YAMLs."""

from __future__ import annotations

import pytest

from pipelines.generate import generate
from pipelines.ingest.registry import load_sources
from pipelines.onboarding.draft import draft, score
from pipelines.settings import SOURCES_DIR


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    generate(out, scale="tiny", seed=7)
    return out / "inbox"


def test_draft_maps_the_generator_dialects(inbox, capsys):
    right = total = 0
    lines = []
    for sid, cfg in sorted(load_sources(SOURCES_DIR).items()):
        if cfg.is_canonical:
            continue
        for spec in cfg.files:
            files = sorted((inbox / sid).glob(spec.pattern))
            if not files:
                continue
            d = draft(files[0])
            assert d.entity == spec.entity, files[0]
            truth = {c.source_column: c.element for c in spec.columns}
            r, t = score(d.mapping, {c.header: truth.get(c.header) for c in d.columns})
            right, total = right + r, total + t
            lines.append(f"  {sid}/{files[0].name}: {r}/{t}")
    with capsys.disabled():
        print(f"\nsources draft on the generator's dialects: {right}/{total} columns right")
        print("\n".join(lines))
    assert total >= 140 and right / total >= 0.9
