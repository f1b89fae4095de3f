"""GB 11643 resident identity numbers: check digit, validation, vectorized construction."""

from __future__ import annotations

import numpy as np

from pipelines.contracts.resident_id import CHECK_CHARACTERS as CHECK_CHARS
from pipelines.contracts.resident_id import WEIGHTS as _WEIGHTS

WEIGHTS = np.array(_WEIGHTS, dtype=np.int64)
_CHECK_ARR = np.array(list(CHECK_CHARS))


def check_char(first17: str) -> str:
    """The 18th character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    total = sum(int(d) * int(w) for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def is_valid(id_number: str) -> bool:
    """True if an 18-character resident ID has a correct check character (upper-case X)."""
    if not isinstance(id_number, str) or len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    return check_char(id_number[:17]) == id_number[17]


def check_chars(digits17: np.ndarray) -> np.ndarray:
    """Vectorized: ``digits17`` is an (n, 17) int array; returns the n check characters."""
    return _CHECK_ARR[(digits17 @ WEIGHTS) % 11]


def build_ids(area: np.ndarray, birth: np.ndarray, seq: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """18-digit IDs from 6-digit area codes (int), birth dates (datetime64[D]) and 3-digit
    sequence numbers (int; odd = male). Returns an object array of str. Works in chunks so the
    fixed-width temporaries stay small."""
    if len(area) > chunk:
        parts = [
            _build_ids(area[i : i + chunk], birth[i : i + chunk], seq[i : i + chunk])
            for i in range(0, len(area), chunk)
        ]
        return np.concatenate(parts)
    return _build_ids(area, birth, seq)


def _build_ids(area: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    ymd = birth.astype("datetime64[D]").astype(str)  # YYYY-MM-DD
    ymd = np.char.replace(ymd, "-", "")
    first17 = np.char.add(np.char.add(area.astype("U6"), ymd), np.char.zfill(seq.astype("U3"), 3))
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - ord("0")
    return np.char.add(first17, check_chars(digits.astype(np.int64))).astype(object)


def wrong_check_char(id_number: str, shift: int) -> str:
    """The same ID with a different, wrong check character (shift in 1..10)."""
    good = CHECK_CHARS.index(id_number[17]) if id_number[17] in CHECK_CHARS else 0
    return id_number[:17] + CHECK_CHARS[(good + shift) % 11]
