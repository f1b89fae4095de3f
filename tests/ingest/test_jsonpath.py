"""JSON paths of jsonl sources: the SQL DuckDB runs agrees with the Python reference on random documents."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest import jsonpath
from pipelines.ingest.jsonpath import JsonPathError, Step

KEYS = st.sampled_from(["id_no", "name", "time", "type", "姓名", "code", "a b"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=8))
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(["request", "accept", "return"])}, optional={"time": SCALARS, "by": SCALARS}
)
DOCS = st.fixed_dictionaries(
    {},
    optional={
        "referral_no": SCALARS,
        "patient": st.dictionaries(KEYS, SCALARS, max_size=4),
        "events": st.lists(EVENT, max_size=4),
        "diagnoses": st.lists(st.fixed_dictionaries({"code": SCALARS}), max_size=3),
    },
)
PATHS = [
    "referral_no",
    "patient.id_no",
    "patient.姓名",
    "patient.a b",
    "events[type=accept].time",
    "events[type=request].by",
    "events[1].type",
    "diagnoses[0].code",
    "patient",
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


@settings(max_examples=80, deadline=None)
@given(doc=DOCS)
def test_sql_and_python_agree(con, doc):
    text = json.dumps(doc, ensure_ascii=False)
    exprs = ", ".join(jsonpath.to_sql(p, "j") for p in PATHS)
    got = con.execute(f"SELECT {exprs} FROM (SELECT ?::VARCHAR AS j)", [text]).fetchone()
    want = tuple(jsonpath.evaluate(p, doc) for p in PATHS)
    for path, g, w in zip(PATHS, got, want, strict=True):
        if path == "patient" and w is not None:  # objects compare as JSON, not as text
            assert json.loads(g) == json.loads(w)
        else:
            assert g == w, path


def test_examples_from_the_design():
    doc = {
        "referral_no": "R1",
        "patient": {"id_no": "360426199101010071"},
        "events": [{"type": "request", "time": "t0"}, {"type": "accept", "time": "t1"}],
    }
    assert jsonpath.parse("events[type=accept].time") == (Step("events", (("type", "accept"),)), Step("time"))
    assert jsonpath.evaluate("events[type=accept].time", doc) == "t1"
    assert jsonpath.evaluate("patient.id_no", doc) == "360426199101010071"
    assert jsonpath.evaluate("events[5].time", doc) is None
    assert jsonpath.top_key("patient.id_no") == "patient"


@pytest.mark.parametrize("bad", ["", " a", "a..b", "a[", "a[x]", "a[=1]", "a.b]", "a['x']"])
def test_bad_paths_are_refused(bad):
    with pytest.raises(JsonPathError):
        jsonpath.parse(bad)
