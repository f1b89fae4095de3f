"""The per-installation person-key secret and the keyed hash that replaces ID numbers.

The secret is 32 random bytes in ``<secrets_dir>/person_key.secret`` (mode 0600), created on first
use, never logged, never in git (``data/`` is ignored). Losing it changes every person_key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

SECRET_FILE = "person_key.secret"
SECRET_BYTES = 32


def load_or_create_secret(secrets_dir: Path) -> bytes:
    """Read the installation's HMAC secret, creating it (0600, hex text) on first run."""
    secrets_dir = Path(secrets_dir)
    path = secrets_dir / SECRET_FILE
    if path.exists():
        data = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(data) < 16:
            raise ValueError(f"{path} holds a secret shorter than 16 bytes")
        return data
    secrets_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(secrets_dir, 0o700)
    value = secrets.token_bytes(SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value.hex() + "\n")
    return value


def person_key(secret: bytes, id_number: str) -> str:
    """HMAC-SHA256 (hex) of the normalized ID number."""
    return hmac.new(secret, id_number.encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """(inner, outer) HMAC-SHA256 pads, so that SQL can compute
    sha256(outer || sha256(inner || message)) == person_key(secret, message) without the secret in SQL."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def person_keys(secret: bytes, id_numbers: Iterable[str]) -> list[str]:
    proto = hmac.new(secret, digestmod=hashlib.sha256)
    out = []
    for v in id_numbers:
        h = proto.copy()
        h.update(v.encode("utf-8"))
        out.append(h.hexdigest())
    return out
