"""GB 11643-1999 citizen identity number: the check character, declared once.

The first 17 characters are digits; the 18th is ``CHECK_CHARACTERS[sum(digit_i * WEIGHTS[i]) % 11]``.
"""

from __future__ import annotations

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


def check_character(first17: str) -> str:
    """The check character of the 17 leading digits: ``11010519491231002`` -> ``X``."""
    return CHECK_CHARACTERS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def has_valid_check_character(number: str) -> bool:
    """An 18-character number whose last character is the check character of the first 17 digits."""
    return (
        len(number) == 18
        and number[:17].isdigit()
        and number[:17].isascii()
        and check_character(number[:17]) == number[17].upper()
    )


def check_sum_sql(column: str) -> str:
    """SQL: the weighted sum of the first 17 digits of ``column`` (a non-digit counts 0)."""
    return " + ".join(
        f"coalesce(TRY_CAST(substr({column}, {i + 1}, 1) AS INTEGER), 0) * {w}" for i, w in enumerate(WEIGHTS)
    )
