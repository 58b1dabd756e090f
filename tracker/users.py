"""People who log in to the staff board: add, change password, disable, list, log in.

Passwords are hashed with argon2 (argon2-cffi); the hash is all that is kept. A clerk sees
and acts; a viewer only sees. Failed logins are counted per user: after a few in a row,
each further attempt must wait longer (2, 4, 8 ... seconds, at most `MAX_WAIT`), and
attempts during the wait are refused without checking the password.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import User

log = logging.getLogger(__name__)

ROLES = ("clerk", "viewer")
ROLE_LABELS = {"clerk": "办理员", "viewer": "查看员"}
MIN_PASSWORD = 8
FREE_FAILURES = 3
MAX_WAIT = timedelta(minutes=5)
_NAME = re.compile(r"^[A-Za-z0-9._\-\u4e00-\u9fff]{1,64}$")
_hasher = PasswordHasher()


class UserError(Exception):
    """A user change that cannot be made: one readable line."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    wait: int = 0  # seconds to wait before the next attempt (refused when > 0 and no user)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")


def get_user(s: Session, name: str) -> User:
    user = s.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"user {name!r}: no such user")
    return user


def add_user(s: Session, name: str, role: str, password: str, now: datetime) -> User:
    name = name.strip()
    if not _NAME.match(name):
        raise UserError(f"user {name!r}: letters, digits, Chinese, '.', '_' or '-' (1-64)")
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be clerk or viewer")
    check_password_rules(password)
    if s.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserError(f"user {name!r}: already exists (use `user passwd`)")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
        failed_logins=0,
    )
    s.add(user)
    s.flush()
    return user


def set_password(s: Session, name: str, password: str) -> User:
    check_password_rules(password)
    user = get_user(s, name)
    user.password_hash = hash_password(password)
    user.failed_logins, user.last_failed_at = 0, None
    return user


def set_active(s: Session, name: str, active: bool) -> User:
    user = get_user(s, name)
    user.active = active
    return user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


def wait_needed(user: User, now: datetime) -> int:
    """Seconds this user must still wait before a login attempt is checked."""
    extra = user.failed_logins - FREE_FAILURES
    if extra < 0 or user.last_failed_at is None:
        return 0
    wait = min(timedelta(seconds=2 ** min(extra + 1, 20)), MAX_WAIT)
    left = user.last_failed_at + wait - now
    return max(0, int(left.total_seconds() + 0.999))


def login(s: Session, name: str, password: str, now: datetime, remote: str = "") -> LoginResult:
    """Check a login. A disabled or unknown user fails like a wrong password."""
    user = s.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        _burn(password)
        log.warning("board login failed: unknown user %r from %s", name[:64], remote or "-")
        return LoginResult(None)
    wait = wait_needed(user, now)
    if wait:
        log.warning(
            "board login refused: user %r must wait %ds after %d failures (from %s)",
            user.name,
            wait,
            user.failed_logins,
            remote or "-",
        )
        return LoginResult(None, wait)
    try:
        ok: bool = _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.active:
        user.failed_logins += 1
        user.last_failed_at = now
        log.warning(
            "board login failed for user %r from %s (%d in a row%s)",
            user.name,
            remote or "-",
            user.failed_logins,
            "" if user.active else ", user disabled",
        )
        return LoginResult(None, wait_needed(user, now))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.last_failed_at, user.last_login_at = 0, None, now
    log.info("board login: %s (%s) from %s", user.name, user.role, remote or "-")
    return LoginResult(user)


_DUMMY = _hasher.hash("report-intake: not a password")


def _burn(password: str) -> None:
    """Spend the time of a real check, so an unknown name answers as slowly as a known one."""
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY, password)
