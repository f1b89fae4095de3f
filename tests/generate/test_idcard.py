from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from pipelines.generate import idcard
from pipelines.generate.exports import strftime


def test_known_ids_from_domain_primer():
    assert idcard.is_valid("360426199101010071")
    assert idcard.is_valid("120103198806018241")
    assert not idcard.is_valid("120103198806018242")
    assert idcard.check_char("36042619910101007") == "1"


def test_build_ids_vectorized_matches_scalar():
    ids = idcard.build_ids(
        np.array([360426, 120103]),
        np.array(["1991-01-01", "1988-06-01"], dtype="datetime64[D]"),
        np.array([7, 824]),
    )
    assert list(ids) == ["360426199101010071", "120103198806018241"]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(min_value=1, max_value=10))
def test_wrong_check_char_is_always_invalid(first17, shift):
    good = first17 + idcard.check_char(first17)
    assert idcard.is_valid(good)
    bad = idcard.wrong_check_char(good, shift)
    assert bad[:17] == first17 and bad != good
    assert not idcard.is_valid(bad)


@given(st.text(max_size=20))
def test_is_valid_never_raises(s):
    assert idcard.is_valid(s) in (True, False)


@given(
    st.lists(
        st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31))),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y年%m月%d日 %H:%M:%S",
            "%Y/%m/%d %H:%M:%S",
            "%Y%m%d%H%M%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d",
            "%Y年%m月%d日",
            "%Y/%m/%d",
            "%Y%m%d",
        ]
    ),
)
def test_fast_strftime_equals_arrow_strftime(values, fmt):
    arr = pa.array([v.replace(microsecond=0) if v else None for v in values], pa.timestamp("s"))
    assert strftime(arr, fmt).to_pylist() == pc.strftime(arr, format=fmt).to_pylist()
    assert strftime(arr, fmt).to_pylist() == [v.strftime(fmt) if v else None for v in arr.to_pylist()]
