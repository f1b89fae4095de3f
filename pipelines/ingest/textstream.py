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
import hashlib
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
