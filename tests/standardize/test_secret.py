"""The person-key secret: created once with mode 0600, stable, never printed."""

from __future__ import annotations

import hashlib
import hmac
import stat

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.standardize.secret import (
    SECRET_FILE,
    hmac_pads,
    load_or_create_secret,
    person_key,
    person_keys,
)


def test_created_once_private_and_stable(tmp_path, capsys):
    d = tmp_path / "secrets"
    first = load_or_create_secret(d)
    assert len(first) == 32
    assert stat.S_IMODE((d / SECRET_FILE).stat().st_mode) == 0o600
    assert load_or_create_secret(d) == first
    out = capsys.readouterr()
    assert first.hex() not in out.out + out.err


def test_person_key_is_hmac_sha256_of_the_id():
    secret = b"s" * 32
    expected = hmac.new(secret, b"360426199101010071", hashlib.sha256).hexdigest()
    assert person_key(secret, "360426199101010071") == expected
    assert person_keys(secret, ["360426199101010071", "120103198806018241"]) == [
        expected,
        hmac.new(secret, b"120103198806018241", hashlib.sha256).hexdigest(),
    ]
    assert person_key(b"t" * 32, "360426199101010071") != expected


@given(st.binary(min_size=16, max_size=100), st.lists(st.text(max_size=20), min_size=1, max_size=10))
@settings(max_examples=30, deadline=None)
def test_property_sql_hmac_from_pads_equals_python_hmac(secret, ids):
    ipad, opad = hmac_pads(secret)
    con = duckdb.connect()
    con.execute("CREATE TABLE pads (ipad BLOB, opad BLOB)")
    con.execute("INSERT INTO pads VALUES (?, ?)", [ipad, opad])
    got = [
        con.execute("SELECT sha256(opad || unhex(sha256(ipad || encode(?)))) FROM pads", [i]).fetchall()[0][0]
        for i in ids
    ]
    assert got == person_keys(secret, ids)
    con.close()
