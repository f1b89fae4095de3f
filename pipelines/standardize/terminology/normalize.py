"""Text normalization for diagnosis strings.

``normalize_text`` is the one normalizer every comparison goes through (terminology names, synonyms,
training texts and inputs alike), so that a name and a free-text variant meet on the same form:

1. Unicode NFKC (full-width letters, digits and punctuation become ASCII; ``Ⅲ`` becomes ``III``),
2. traditional -> simplified Chinese (OpenCC ``t2s``),
3. ASCII lower-case, whitespace collapsed,
4. roman (``I``-``V``) and Chinese (一-五) numerals directly before 级/期/度/型 become arabic digits,
   so ``高血压Ⅲ级``, ``高血压三级`` and ``高血压3级`` all read ``高血压3级``.

The function is idempotent: ``normalize_text(normalize_text(s)) == normalize_text(s)``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc
from opencc import OpenCC

_T2S = OpenCC("t2s")


def _t2s_trigger_chars() -> frozenset[str]:
    """Characters whose presence can make ``t2s`` change a string: every traditional character of
    OpenCC's character table plus the characters of any phrase entry without one. A string with none
    of them is already simplified, and the (slow, pure-Python) conversion is skipped."""
    directory = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    with (directory / "TSCharacters.txt").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                chars.add(line.split("\t", 1)[0])
    with (directory / "TSPhrases.txt").open(encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.rstrip("\n").partition("\t")
            if key and not any(c in chars for c in key) and key != value.split(" ")[0]:
                chars.update(key)
    return frozenset(chars)


_T2S_TRIGGERS = _t2s_trigger_chars()

_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_CHINESE = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}
_ROMAN_RE = re.compile(r"(?<![a-z])(iv|v|iii|ii|i)(?=[级期度型])")
_CHINESE_RE = re.compile(r"(?<![一二三四五六七八九十])([一二三四五])(?=[级期度型])")
_SPACE_RE = re.compile(r"\s+")
# everything that is not a letter, digit or CJK ideograph is dropped from a match key
_KEY_DROP_RE = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_BRACKETED_RE = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")


def _nfkc_t2s_lower(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if not _T2S_TRIGGERS.isdisjoint(text):
        text = _T2S.convert(text)
    # OpenCC may emit characters that NFKC changes again; one more pass makes the result stable
    text = unicodedata.normalize("NFKC", text)
    return text.lower()


# list numbers written as one character (①, ⑴, ⒈): NFKC would turn ① into a bare 1 that reads as
# part of the diagnosis (①2型糖尿病 -> 12型糖尿病); they become 1. / (1) first
_LIST_NUMBERS = {
    **{chr(0x2460 + i): f"{i + 1}." for i in range(20)},  # ①-⑳
    **{chr(0x2474 + i): f"({i + 1})" for i in range(20)},  # ⑴-⒇
    **{chr(0x2488 + i): f"{i + 1}." for i in range(20)},  # ⒈-⒛
    **{chr(0x2776 + i): f"{i + 1}." for i in range(10)},  # ❶-❿
}
_LIST_NUMBER_TABLE = str.maketrans(_LIST_NUMBERS)


@lru_cache(maxsize=200_000)
def normalize_text(text: str) -> str:
    """Normalize one diagnosis string (see the module docstring). Idempotent."""
    out = _nfkc_t2s_lower(text.translate(_LIST_NUMBER_TABLE))
    previous = None
    while out != previous:  # converting numerals can expose a new numeral context; run to a fixpoint
        previous = out
        out = _ROMAN_RE.sub(lambda m: _ROMAN[m.group(1)], out)
        out = _CHINESE_RE.sub(lambda m: _CHINESE[m.group(1)], out)
        out = _SPACE_RE.sub(" ", out).strip()
        out = _nfkc_t2s_lower(out)
    return out


@lru_cache(maxsize=200_000)
def match_key(text: str) -> str:
    """The key two strings are compared on: normalized, without punctuation or spaces."""
    return _KEY_DROP_RE.sub("", normalize_text(text))


def strip_brackets(text: str) -> str:
    """Drop bracketed qualifiers: ``心房颤动[心房纤颤]`` -> ``心房颤动``."""
    previous = None
    while text != previous:
        previous = text
        text = _BRACKETED_RE.sub("", text)
    return text


# Separators between several diagnoses in one field (applied to normalized text).
_SPLIT_RE = re.compile(
    r"[,;、。/|\s]+|\?+|(?<=[\u3400-\u9fff\)\]])\.(?=[\u3400-\u9fff])|(?<!\d)\+|\+(?!\d)"
)  # + splits unless between two digits (孕11+1周)
# A part that is only an attribute of the diagnosis before it (a grade, stage, type or risk tier
# written after a space: 原发性高血压 3级, 糖尿病 2型, 高血压 2级 很高危, 慢阻肺 gold 3级) is no
# diagnosis of its own: it goes back onto that diagnosis.
_ATTRIBUTE_ONLY_RE = re.compile(r"^(?:gold|[0-9]+(?:级|期|型|度)|(?:低|中|高|很高|极高)危(?:组|层)?)+$")


# A list number in front of a diagnosis (1. 2、 3) (4) ①): the number 1-2 digits, then . 、 ) or :,
# then the diagnosis - a letter/ideograph, or a digit that starts one (2.2型糖尿病); not a decimal (2.5cm)
_LIST_MARK = r"(?:\([0-9]{1,2}\)|[0-9]{1,2}[.、):])(?=[\u3400-\u9fffa-z\(]|[0-9][\u3400-\u9fff])"
_LEADING_LIST_MARK_RE = re.compile("^" + _LIST_MARK)
# in a numbered field, the next number right after a diagnosis starts the next one (1.高血压2.糖尿病)
_INNER_LIST_MARK_RE = re.compile(r"(?<=[\u3400-\u9fff\)\]])(?=" + _LIST_MARK + ")")
_LIST_NUMBER_ONLY_RE = re.compile(r"^\(?[0-9]{1,2}\)?[.、):]?$")


def _without_list_numbers(normalized: str) -> str:
    if not _LEADING_LIST_MARK_RE.match(normalized):
        return normalized
    return _INNER_LIST_MARK_RE.sub(" ", normalized)


def split_diagnoses(normalized: str) -> list[str]:
    """Split a normalized field into its diagnoses on separators (``,;、/`` spaces ...).

    Brackets are respected: a separator inside ``(...)`` or ``[...]`` does not split, so
    ``高血压3级(极高危,靶器官损害)`` stays one part. List numbers are not parts: ``1.高血压3级
    2.2型糖尿病``, ``(1)冠心病(2)房颤`` and ``①高血压②冠心病`` are two diagnoses each.
    """
    normalized = _without_list_numbers(normalized)
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(normalized)
    while i < n:
        ch = normalized[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif depth == 0:
            m = _SPLIT_RE.match(normalized, i)
            if m and m.end() > i:
                # a question mark qualifies the diagnosis before it (肺炎?): it stays on that part
                parts.append(normalized[start:i] + ("?" if ch == "?" else ""))
                start = i = m.end()
                continue
        i += 1
    parts.append(normalized[start:])
    out: list[str] = []
    stripped = [p.strip(" :-") for p in parts if p.strip(" :-?")]
    for i, p in enumerate(stripped):
        if _LIST_NUMBER_ONLY_RE.match(p) and i + 1 < len(stripped) and not "a" <= stripped[i + 1][0] <= "z":
            continue  # 1、冠心病: the number before a diagnosis is its list number (not type 2 diabetes)
        p = _LEADING_LIST_MARK_RE.sub("", p)
        if out and _ATTRIBUTE_ONLY_RE.match(p) and not out[-1].endswith("?"):
            out[-1] += p
        else:
            out.append(p)
    return out
