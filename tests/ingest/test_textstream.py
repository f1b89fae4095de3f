"""Streaming fingerprint / transcode: property tests over random text, chunk sizes and bad bytes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.textstream import UndecodableError, blank_lines, fingerprint, transcode_to_utf8

# GB18030 encodes every Unicode scalar value; surrogates are not text
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
CJK = st.text(alphabet=st.sampled_from("就诊日期张三李四王䶮高血压糖尿病，。、\n,ab1"), max_size=200)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(text=TEXT, chunk=st.integers(min_value=1, max_value=17))
def test_gb18030_transcode_round_trips_for_any_chunk_size(tmp_path, text, chunk):
    src, dest = tmp_path / "src.csv", tmp_path / "out.csv"
    src.write_bytes(text.encode("gb18030"))
    written = transcode_to_utf8(src, dest, "gb18030", chunk_size=chunk)
    assert dest.read_bytes() == text.encode("utf-8")
    assert written == len(text.encode("utf-8"))


@SETTINGS
@given(
    before=CJK,
    after=CJK,
    chunk=st.integers(min_value=1, max_value=9),
    encoding=st.sampled_from(["gbk", "gb18030"]),
)
def test_a_bad_byte_is_located_exactly(tmp_path, before, after, chunk, encoding):
    head = before.encode("gb18030")
    src = tmp_path / "bad.csv"
    src.write_bytes(head + b"\xff" + after.encode("gb18030"))
    with pytest.raises(UndecodableError) as exc:
        transcode_to_utf8(src, tmp_path / "out.csv", encoding, chunk_size=chunk)
    assert exc.value.offset == len(head)
    assert exc.value.line == before.count("\n") + 1
    assert exc.value.bad[:1] == b"\xff"


@SETTINGS
@given(text=TEXT, chunk=st.integers(min_value=1, max_value=13), bad=st.booleans())
def test_fingerprint_hashes_and_validates_utf8_in_one_pass(tmp_path, text, chunk, bad):
    data = text.encode("utf-8")
    cut = len(data) // 2
    if bad:  # a lone continuation byte at a character boundary is never valid UTF-8
        while 0 < cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        data = data[:cut] + b"\x80" + data[cut:]
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    fp = fingerprint(path, check_utf8=True, chunk_size=chunk)
    assert fp.sha256 == hashlib.sha256(data).hexdigest()
    assert fp.file_id == fp.sha256[:16]
    assert fp.size_bytes == len(data)
    assert fp.ends_with_newline == data.endswith(b"\n")
    if bad:
        assert fp.utf8_error is not None and fp.utf8_error.offset == cut
        assert fp.utf8_error.line == data[:cut].count(b"\n") + 1
    else:
        assert fp.utf8_error is None


def test_truncated_multibyte_character_at_end_of_file_is_undecodable(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("姓名\n张".encode("gb18030")[:-1])
    with pytest.raises(UndecodableError) as exc:
        transcode_to_utf8(path, tmp_path / "o.csv", "gb18030", chunk_size=2)
    assert (exc.value.offset, exc.value.line) == (len("姓名\n".encode("gb18030")), 2)


@SETTINGS
@given(
    lines=st.lists(st.sampled_from(["", "", "a,b", "张三,1", " ", "x"]), max_size=40),
    crlf=st.booleans(),
    chunk=st.integers(min_value=1, max_value=7),
)
def test_blank_lines_are_found_across_chunk_boundaries(tmp_path, lines, crlf, chunk):
    sep = "\r\n" if crlf else "\n"
    path = tmp_path / "b.csv"
    path.write_bytes("".join(line + sep for line in lines).encode("gb18030"))
    assert blank_lines(path, chunk_size=chunk) == [i for i, line in enumerate(lines, start=1) if line == ""]


# ------------------------------------------------------------------ normalize_text (property-based)
from pipelines.ingest.textstream import normalize_text  # noqa: E402

_cell = st.text(alphabet=st.sampled_from(list('ab张三,"\n\r 1')), min_size=0, max_size=6)


def _csv_field(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') or not v else v


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(_cell, min_size=2, max_size=2), min_size=0, max_size=12),
    ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=13, max_size=13),
    last_end=st.booleans(),
    bom=st.booleans(),
    chunk=st.integers(min_value=1, max_value=7),
    encoding=st.sampled_from(["utf-8", "gb18030"]),
)
def test_normalize_counts_every_record_whatever_the_line_ends(
    tmp_path_factory, rows, ends, last_end, bom, chunk, encoding
):
    lines = ["h1,h2"] + [",".join(_csv_field(v) for v in r) for r in rows]
    text = "".join(line + ends[i] for i, line in enumerate(lines))
    if not last_end:
        text = text[: -len(ends[len(lines) - 1])]
    data = (("\ufeff" if bom else "") + text).encode(encoding)
    d = tmp_path_factory.mktemp("n")
    (d / "in").write_bytes(data)
    out = normalize_text(d / "in", d / "out", encoding, chunk_size=chunk)
    assert out.records == len(rows)
    assert out.head_records == 1
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert (d / "out").read_text(encoding="utf-8") == expected
    assert out.ends_with_newline == expected.endswith("\n")
