"""AppTest helpers for the login: a session that is already logged in with a role."""

from __future__ import annotations

USER_KEY = "rw_user"  # dashboards/auth.py


def as_role(at, role: str = "engineer", name: str | None = None):
    """``at`` with a logged-in session of ``role`` (what a successful login leaves in session_state)."""
    at.session_state[USER_KEY] = {"name": name or f"test_{role}", "role": role}
    return at
