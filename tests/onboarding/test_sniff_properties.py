"""Properties of the export sniffer: whatever the delimiter, encoding and title line, the header row,
the delimiter and the header cells of a table are found again."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.onboarding.sniff import DELIMITERS, header_synonyms, sniff

HEADERS = sorted(h for h, els in header_synonyms().items() if "-" not in els and len(h) >= 2)


@settings(max_examples=60, deadline=None)
@given(
    headers=st.lists(st.sampled_from(HEADERS), min_size=3, max_size=10, unique=True),
    data=st.data(),
    delimiter=st.sampled_from(DELIMITERS),
    encoding=st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]),
    title=st.booleans(),
)
def test_delimiter_header_row_and_header_are_found(headers, data, delimiter, encoding, title):
    width = len(headers)
    cell = st.from_regex(r"[A-Z]{0,2}[0-9]{1,6}", fullmatch=True)
    rows = data.draw(st.lists(st.lists(cell, min_size=width, max_size=width), min_size=2, max_size=8))
    lines = ([f"某某医院 门诊明细 导出{delimiter * (width - 1)}"] if title else []) + [
        delimiter.join(r) for r in [headers, *rows]
    ]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "visits_202401.csv"
        path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
        s = sniff(path)
    assert s.delimiter == delimiter
    assert s.header_row == (2 if title else 1)
    assert s.header == headers
    assert len(s.rows) == len(rows)
    ascii_only = all(h.isascii() for h in headers) and not title
    assert s.encoding == encoding or (ascii_only and encoding == "gb18030" and s.encoding == "utf-8")
