"""Dashboard users, roles and the audit log (kept under the data dir, never in a published snapshot).

``<data>/app/users.yaml``   name -> role and bcrypt hash of the password (0600). Created and changed
                            only with ``referral-warehouse users add|remove|list``.
``<data>/app/audit.sqlite`` one row per login, failed login, page view and download: when, who, role,
                            what (0600). SQLite: the app is its only writer; the pipeline never
                            touches it and the snapshot swap cannot lose it.

Roles (cumulative, minimum necessary):
  analyst   indicator pages (总览, 转诊流向, 机构与区县, 慢病管理, 号源下沉)
  quality   + 数据质量 (masked quarantine drill-down, unmapped-terms worklist)
  engineer  + 数据接入 (file registry)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import sqlite3
import sys
from pathlib import Path

import yaml

from pipelines.settings import PRIVATE_UMASK, paths, secure_path

ROLES = ("analyst", "quality", "engineer")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
ROLE_ZH = {"analyst": "分析人员", "quality": "质控人员", "engineer": "数据工程师"}
NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD = 10


def may_open(role: str, needed: str) -> bool:
    """True when ``role`` includes the rights of ``needed`` (analyst < quality < engineer)."""
    return role in ROLE_RANK and ROLE_RANK[role] >= ROLE_RANK[needed]


def users_file(app_dir: Path | None = None) -> Path:
    return Path(app_dir or paths().app_dir) / "users.yaml"


def audit_file(app_dir: Path | None = None) -> Path:
    return Path(app_dir or paths().app_dir) / "audit.sqlite"


def _ensure_dir(app_dir: Path) -> None:
    os.umask(PRIVATE_UMASK)
    app_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secure_path(app_dir)


def load_users(app_dir: Path | None = None) -> dict[str, dict]:
    f = users_file(app_dir)
    if not f.exists():
        return {}
    data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    return dict(data.get("users") or {})


def _save_users(users: dict[str, dict], app_dir: Path) -> None:
    _ensure_dir(app_dir)
    f = users_file(app_dir)
    tmp = f.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# referral-warehouse dashboard users: edit with `referral-warehouse users`\n")
        yaml.safe_dump({"users": users}, fh, allow_unicode=True, sort_keys=True)
    os.replace(tmp, f)


def add_user(name: str, role: str, password: str | None = None, app_dir: Path | None = None) -> str:
    """Create or replace ``name`` with ``role``; returns the password (generated when not given)."""
    import bcrypt

    if not NAME.match(name):
        raise ValueError(f"invalid user name {name!r}: letters, digits, _ . - or Chinese, at most 64")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if password is None:
        password = secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    app_dir = Path(app_dir or paths().app_dir)
    users = load_users(app_dir)
    users[name] = {
        "role": role,
        "password_hash": bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii"),
        "created_at": dt.datetime.now().replace(microsecond=0).isoformat(),
    }
    _save_users(users, app_dir)
    return password


def remove_user(name: str, app_dir: Path | None = None) -> bool:
    app_dir = Path(app_dir or paths().app_dir)
    users = load_users(app_dir)
    if users.pop(name, None) is None:
        return False
    _save_users(users, app_dir)
    return True


def authenticate(name: str, password: str, app_dir: Path | None = None) -> str | None:
    """The user's role when the password matches its bcrypt hash, else None."""
    import bcrypt

    user = load_users(app_dir).get(name or "")
    if not user or not password:
        return None
    if bcrypt.checkpw(password.encode("utf-8"), str(user["password_hash"]).encode("ascii")):
        return str(user["role"])
    return None


# ---------------------------------------------------------------------------------------------
# Audit log
# ---------------------------------------------------------------------------------------------

AUDIT_DDL = """CREATE TABLE IF NOT EXISTS audit_log (
    at TEXT NOT NULL,          -- local time, ISO 8601
    user_name TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,      -- login / login_failed / logout / view / download / denied
    page TEXT,
    detail TEXT                -- download: table and format
)"""


def audit(
    user: str, role: str | None, action: str, page: str | None = None, detail: str | None = None, app_dir=None
) -> None:
    app_dir = Path(app_dir or paths().app_dir)
    _ensure_dir(app_dir)
    f = audit_file(app_dir)
    with sqlite3.connect(f) as con:
        con.execute(AUDIT_DDL)
        con.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
            [dt.datetime.now().isoformat(timespec="seconds"), user, role, action, page, detail],
        )
    secure_path(f)


def audit_rows(app_dir: Path | None = None) -> list[tuple]:
    f = audit_file(app_dir)
    if not f.exists():
        return []
    with sqlite3.connect(f) as con:
        return con.execute("SELECT * FROM audit_log ORDER BY rowid").fetchall()


# ---------------------------------------------------------------------------------------------
# CLI: referral-warehouse users add|remove|list|audit
# ---------------------------------------------------------------------------------------------


def _handle(args: argparse.Namespace) -> int:
    app_dir = args.settings.paths.app_dir
    if args.users_command == "add":
        try:
            pw = add_user(args.name, args.role, args.password, app_dir=app_dir)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"user {args.name} ({args.role}) saved in {users_file(app_dir)}")
        if args.password is None:
            print(f"password (shown once): {pw}")
        return 0
    if args.users_command == "remove":
        ok = remove_user(args.name, app_dir=app_dir)
        print(f"user {args.name} {'removed' if ok else 'not found'}")
        return 0 if ok else 1
    if args.users_command == "list":
        for name, u in sorted(load_users(app_dir).items()):
            print(f"{name}\t{u['role']}\t{u.get('created_at', '')}")
        return 0
    if args.users_command == "audit":
        for row in audit_rows(app_dir)[-args.last :]:
            print("\t".join("" if v is None else str(v) for v in row))
        return 0
    return 2


def register(subparsers) -> None:
    p = subparsers.add_parser("users", help="dashboard users and roles (bcrypt), and the audit log")
    p.add_argument("--data-dir", default=None, help="data dir (default: RW_DATA_DIR or data/)")
    sub = p.add_subparsers(dest="users_command", required=True)
    a = sub.add_parser("add", help="create or reset a user; prints a generated password once")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--password", default=None, help="default: generate one and print it once")
    r = sub.add_parser("remove", help="delete a user")
    r.add_argument("name")
    sub.add_parser("list", help="users and roles")
    au = sub.add_parser("audit", help="the last entries of the audit log")
    au.add_argument("--last", type=int, default=50)
    p.set_defaults(handler=_handle)
