"""Users of the web GUI: the ``users`` table, argon2id hashes, the password policy, roles.

Synchronous (SQLAlchemy Core on :class:`~ratchet.store.database.Database`): the web server calls
it through ``asyncio.to_thread``, the command line directly. A login of an unknown user still
verifies a hash, so the answer takes as long as for a known one.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ratchet.store.database import Database
from ratchet.store.tables import users

MIN_PASSWORD_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 5
USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "qwertyuiopas",
        "letmeinletmein",
        "administrator",
        "correcthorsebatterystaple",
        "iloveyou1234",
        "changemechangeme",
    }
)


class Role(enum.StrEnum):
    """What a user may do: a viewer reads, an operator trades, an admin also forces exits."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """viewer 0 < operator 1 < admin 2."""
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role includes everything ``needed`` may do."""
        return self.rank >= needed.rank


ROLES = frozenset(role.value for role in Role)


class UserError(ValueError):
    """A refused user or password, with a message meant for the person typing it."""


@dataclass(frozen=True, slots=True)
class User:
    """A user as the web server sees it (never the hash)."""

    username: str
    role: Role


def hasher() -> PasswordHasher:
    """argon2id with the library's (RFC 9106 low-memory) defaults."""
    return PasswordHasher()


def check_username(username: str) -> str:
    """The username, or :class:`UserError` saying what is wrong with it."""
    if not 1 <= len(username) <= 64:
        raise UserError("the username must be 1 to 64 characters long")
    if not set(username) <= USERNAME_CHARACTERS:
        raise UserError("the username may hold lowercase letters, digits, '.', '_' and '-' only")
    return username


def check_password(password: str, username: str) -> None:
    """Refuse an empty, short or guessable password with a message saying why."""
    if not password:
        raise UserError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password is too short: {len(password)} characters, "
            f"at least {MIN_PASSWORD_LENGTH} needed"
        )
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise UserError(
            f"the password is too repetitive: use at least {MIN_DISTINCT_CHARACTERS} "
            "different characters"
        )
    lowered = password.lower()
    if username.lower() in lowered:
        raise UserError("the password must not contain the username")
    if lowered in COMMON_PASSWORDS:
        raise UserError("the password is a well-known one; choose another")


def add_user(
    database: Database,
    username: str,
    password: str,
    role: Role,
    *,
    password_hasher: PasswordHasher | None = None,
    replace: bool = False,
) -> User:
    """Create (or with ``replace``: reset the password and role of) a user.

    Raises:
        UserError: a bad username or password, or the user exists and ``replace`` is off.
    """
    check_username(username)
    check_password(password, username)
    digest = (password_hasher or hasher()).hash(password)
    values = {"password_hash": digest, "role": role.value}
    try:
        with database.write() as connection:
            exists = connection.execute(
                select(users.c.id).where(users.c.username == username)
            ).first()
            if exists is not None and not replace:
                raise UserError(f"user {username!r} already exists (use --replace to reset it)")
            if exists is not None:
                connection.execute(update(users).where(users.c.username == username).values(values))
            else:
                connection.execute(
                    insert(users).values(username=username, created_at=time.time(), **values)
                )
    except IntegrityError:
        raise UserError(f"user {username!r} already exists") from None
    return User(username, role)


def find_user(database: Database, username: str) -> User | None:
    """The user called ``username`` (None if there is none or its role is unknown)."""
    with database.read() as connection:
        row = connection.execute(
            select(users.c.username, users.c.role).where(users.c.username == username)
        ).first()
    return _user(row.username, row.role) if row is not None else None


def authenticate(
    database: Database,
    username: str,
    password: str,
    *,
    password_hasher: PasswordHasher | None = None,
) -> User | None:
    """The user if ``password`` is theirs, else None (in about the same time either way)."""
    check = password_hasher or hasher()
    with database.read() as connection:
        row = connection.execute(
            select(users.c.username, users.c.role, users.c.password_hash).where(
                users.c.username == username
            )
        ).first()
    digest = row.password_hash if row is not None else _dummy_hash(check)
    try:
        check.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return _user(row.username, row.role) if row is not None else None


def _user(username: str, role: str) -> User | None:
    """A user, or None when the stored role is not one this version knows."""
    return User(username, Role(role)) if role in ROLES else None


_DUMMY: dict[tuple[int, int, int], str] = {}


def _dummy_hash(check: PasswordHasher) -> str:
    """A hash of nothing anyone knows, with the hasher's parameters (for unknown users)."""
    key = (check.time_cost, check.memory_cost, check.parallelism)
    if key not in _DUMMY:
        _DUMMY[key] = check.hash("no such user: this hash only equalises the timing")
    return _DUMMY[key]
