"""Byte-level passes over an export file, in fixed-size chunks (never the whole file in memory).

* :func:`fingerprint` — sha256, size, whether the file ends with a newline, and (optionally) whether
  the bytes are valid UTF-8, in one pass.
* :func:`transcode_to_utf8` — GBK / GB18030 (or any Python codec) to a UTF-8 file with an
  incremental decoder, so that DuckDB's native CSV/JSON readers can read it (DuckDB's own GBK support
  is an extension that would be downloaded at run time, which we cannot do).

Both raise :class:`UndecodableError` with the byte offset and the 1-based line of the first bad byte.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 4 * 1024 * 1024

# Declared encoding -> the Python codec used to decode it. GB18030 is a strict superset of GBK (and of
# GB2312), so GBK files are decoded with it: HIS exports labelled GBK often hold a few GB18030-only
# characters (rare names), which a strict GBK decoder would reject.
CODECS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "gbk": "gb18030",
    "gb18030": "gb18030",
}


class UndecodableError(ValueError):
    def __init__(self, encoding: str, offset: int, line: int, bad: bytes):
        self.encoding = encoding
        self.offset = offset
        self.line = line
        self.bad = bad
        super().__init__(f"not valid {encoding}: bytes {bad.hex(' ')} at offset {offset} (line {line})")


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    size_bytes: int
    ends_with_newline: bool
    utf8_error: UndecodableError | None = None  # only checked when asked

    @property
    def file_id(self) -> str:
        return self.sha256[:16]


class _Decoder:
    """An incremental strict decoder that knows where it is in the byte stream."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._dec = codecs.getincrementaldecoder(CODECS.get(encoding, encoding))(errors="strict")
        self._consumed = 0  # bytes fed before the current chunk
        self._lines = 0  # newlines in fully decoded bytes before the current chunk

    def feed(self, chunk: bytes, final: bool = False) -> str:
        pending = self._dec.getstate()[0]
        try:
            text = self._dec.decode(chunk, final)
        except UnicodeDecodeError as exc:
            # exc.start indexes into pending + chunk
            data = pending + chunk
            offset = self._consumed - len(pending) + exc.start
            line = self._lines + data[: exc.start].count(b"\n") + 1
            raise UndecodableError(self.encoding, offset, line, data[exc.start : exc.end][:8]) from None
        self._consumed += len(chunk)
        self._lines += text.count("\n")
        return text


def fingerprint(path: Path, check_utf8: bool = False, chunk_size: int = CHUNK_SIZE) -> Fingerprint:
    h = hashlib.sha256()
    size = 0
    last = b""
    dec = _Decoder("utf-8") if check_utf8 else None
    error: UndecodableError | None = None
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            h.update(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if dec is not None and error is None:
                try:
                    dec.feed(chunk)
                except UndecodableError as exc:
                    error = exc
        if dec is not None and error is None:
            try:
                dec.feed(b"", final=True)
            except UndecodableError as exc:
                error = exc
    return Fingerprint(h.hexdigest(), size, last == b"\n", error)


def transcode_to_utf8(src: Path, dest: Path, encoding: str, chunk_size: int = CHUNK_SIZE) -> int:
    """Decode ``src`` as ``encoding`` (strict) and write UTF-8 to ``dest``. Returns bytes written."""
    dec = _Decoder(encoding)
    written = 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(chunk_size):
            out = dec.feed(chunk).encode("utf-8")
            fout.write(out)
            written += len(out)
        out = dec.feed(b"", final=True).encode("utf-8")
        fout.write(out)
        written += len(out)
    return written


def blank_lines(path: Path, chunk_size: int = CHUNK_SIZE) -> list[int]:
    """1-based numbers of the empty lines (``\\n`` or ``\\r\\n`` alone) of a file, in one streamed pass.
    Works on the bytes: in UTF-8, GBK and GB18030 the bytes 0x0A / 0x0D only ever mean LF / CR."""
    found: set[int] = set()
    lines_before = 0  # newlines in the file before `chunk`
    # the last 2 bytes before `chunk`, so that patterns across chunks are seen; it starts as a virtual
    # newline (counted as line 0) so that an empty first line is found like any other
    prev = b"\n"
    with open(path, "rb") as fh:
        chunk = fh.read(chunk_size)
        while chunk:
            data = prev + chunk
            base = lines_before - prev.count(b"\n")  # real newlines before `data` (the virtual one: -1)
            for pattern in (b"\n\n", b"\n\r\n"):
                start = 0
                while (i := data.find(pattern, start)) != -1:
                    found.add(base + data.count(b"\n", 0, i + 1) + 1)
                    start = i + 1
            lines_before += chunk.count(b"\n")
            prev = data[-2:]
            chunk = fh.read(chunk_size)
    return sorted(found)


# ----------------------------------------------------------------------------------------------------
# Normalizing transcode + the independent record count
# ----------------------------------------------------------------------------------------------------

# What a text export may not be: signatures of binary formats sent under a text name.
BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive or .xlsx workbook",
    b"\xd0\xcf\x11\xe0": "a legacy Office file (.xls / .doc)",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}
# control characters removed while normalizing: NUL padding and the DOS end-of-file mark (Ctrl-Z)
REMOVED_CONTROLS = "\x00\x1a"
_CONTROLS_TABLE = str.maketrans("", "", REMOVED_CONTROLS)


class BinaryFileError(ValueError):
    def __init__(self, what: str):
        self.what = what
        super().__init__(f"looks like {what}, not a text export")


@dataclass
class NormalizedText:
    """A text export rewritten as UTF-8 with LF line ends, and what was found on the way."""

    path: Path
    records: int  # non-blank records after the first `header_rows` physical records
    head_records: int  # non-blank records among the first `header_rows` physical records
    ends_with_newline: bool
    decoded_as: str
    bom: bool = False
    lf: int = 0
    crlf: int = 0
    cr: int = 0
    controls_removed: int = 0

    @property
    def line_endings(self) -> list[str]:
        return [name for name, n in (("LF", self.lf), ("CRLF", self.crlf), ("CR", self.cr)) if n]


def sniff_binary(head: bytes) -> str | None:
    """What a file whose first bytes are ``head`` is, when it is clearly not text (else None).
    UTF-16 text (BOM, or NULs at every other byte) is text: see :func:`utf16_codec`."""
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            return what
    if utf16_codec(head):
        return None
    sample = head[:8192].rstrip(b"\x00\x1a")  # padding at the end is not a sign of binary data
    if sample and sample.count(0) > len(sample) // 10:
        return "binary data (many NUL bytes)"
    return None


def utf16_codec(head: bytes) -> str | None:
    """``utf-16`` for a UTF-16 file (Excel's 'Unicode text'): a BOM, or NULs at every other byte."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:8192]
    if len(sample) >= 8:
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        half = len(sample) // 2
        if odd > 0.9 * half and even == 0:
            return "utf-16-le"
        if even > 0.9 * half and odd == 0:
            return "utf-16-be"
    return None


def normalize_text(
    src: Path,
    dest: Path,
    encoding: str,
    *,
    kind: str = "csv",
    delimiter: str = ",",
    header_rows: int = 1,
    chunk_size: int = CHUNK_SIZE,
) -> NormalizedText:
    """Decode ``src`` (strict) and write it to ``dest`` as UTF-8 without BOM, every line end (LF,
    CRLF, lone CR, in any mixture) as LF, NUL and Ctrl-Z bytes removed. In the same pass count the
    file's records independently of DuckDB: for ``kind="csv"`` the non-blank records as Python's csv
    module parses them (quotes respected: a quoted field may hold line breaks); for ``kind="lines"``
    (jsonl) the non-blank lines. Records among the first ``header_rows`` physical records (titles and
    the header) are counted apart.

    Raises :class:`UndecodableError` or :class:`BinaryFileError`."""
    with open(src, "rb") as fh:
        head = fh.read(8192)
    what = sniff_binary(head)
    if what:
        raise BinaryFileError(what)
    codec = utf16_codec(head) or encoding
    out = NormalizedText(dest, 0, 0, False, codec)
    dec = _Decoder(codec)
    stats = {"first": True, "pending_cr": False, "last": ""}

    def chunks():
        with open(src, "rb") as fin, open(dest, "w", encoding="utf-8", newline="") as fout:
            while True:
                data = fin.read(chunk_size)
                final = not data
                text = dec.feed(data, final=final)
                if stats["first"] and text:
                    stats["first"] = False
                    if text.startswith("\ufeff"):
                        out.bom = True
                        text = text[1:]
                if stats["pending_cr"]:
                    text = "\r" + text
                    stats["pending_cr"] = False
                if text.endswith("\r") and not final:
                    stats["pending_cr"] = True  # maybe the first half of a CRLF split across chunks
                    text = text[:-1]
                if "\x00" in text or "\x1a" in text:
                    before = len(text)
                    text = text.translate(_CONTROLS_TABLE)
                    out.controls_removed += before - len(text)
                if "\r" in text:
                    crlf = text.count("\r\n")
                    out.crlf += crlf
                    out.cr += text.count("\r") - crlf
                    out.lf += text.count("\n") - crlf
                    text = text.replace("\r\n", "\n").replace("\r", "\n")
                else:
                    out.lf += text.count("\n")
                if text:
                    fout.write(text)
                    stats["last"] = text[-1]
                    yield text
                if final:
                    return

    def lines():
        """The normalized text as lines split on LF only, iterated in C (io.StringIO per chunk)."""
        carry = ""
        for text in chunks():
            text = carry + text
            cut = text.rfind("\n") + 1
            carry = text[cut:]
            if cut:
                yield io.StringIO(text[:cut], newline="\n")
        if carry:
            yield io.StringIO(carry, newline="\n")

    stream = itertools.chain.from_iterable(lines())
    if kind == "csv":
        csv.field_size_limit(2**31 - 1)
        records = csv.reader(stream, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        head_n = sum(1 for row in itertools.islice(records, header_rows) if row)
        total = head_n + sum(1 for row in records if row)
    else:
        head_n = sum(1 for line in itertools.islice(stream, header_rows) if line.strip())
        total = head_n + sum(1 for line in stream if line.strip())
    out.records = total - head_n
    out.head_records = head_n
    out.ends_with_newline = stats["last"] == "\n"
    return out
