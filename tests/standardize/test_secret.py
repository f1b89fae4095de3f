"""The person-key secret: created once with mode 0600, stable, never printed."""

from __future__ import annotations

import hashlib
import hmac
import stat

from pipelines.standardize.secret import SECRET_FILE, load_or_create_secret, person_key, person_keys


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
