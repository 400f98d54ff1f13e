"""The session secret (never a default) and ``ratchet user add`` on a real SQLite file."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from ratchet.cli.main import app
from ratchet.store.database import Database
from ratchet.store.tables import users
from ratchet.web.secret import SecretError, session_secret
from ratchet.web.users import Role, authenticate

GOOD = "plenty-long-pass-42"


def test_the_secret_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = session_secret(state, environ={})
    path = state / "web-secret"
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(state, environ={}) == first  # sessions survive a restart
    other = session_secret(tmp_path / "elsewhere", environ={})
    assert other != first  # never a default


def test_the_environment_wins_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    key = base64.urlsafe_b64encode(b"s" * 32).decode()
    assert session_secret(tmp_path, environ={"RATCHET_WEB_SECRET": key}) == b"s" * 32
    assert not (tmp_path / "web-secret").exists()
    with pytest.raises(SecretError, match="Fernet key"):
        session_secret(tmp_path, environ={"RATCHET_WEB_SECRET": "hunter2"})


def test_a_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    session_secret(tmp_path, environ={})
    (tmp_path / "web-secret").chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        session_secret(tmp_path, environ={})


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_user_add_from_stdin_stores_an_argon2id_hash(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "add", "alice", "--role", "operator", "--db", _db(tmp_path), "--password-stdin"],
        input=GOOD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "added user alice (role operator)" in result.output
    database = Database.open(_db(tmp_path))
    try:
        with database.read() as connection:
            row = connection.execute(select(users.c.password_hash, users.c.role)).one()
        assert row.role == "operator"
        assert row.password_hash.startswith("$argon2id$")
        assert GOOD not in row.password_hash
        found = authenticate(database, "alice", GOOD, password_hasher=PasswordHasher())
        assert found is not None
        assert found.role is Role.OPERATOR
        assert authenticate(database, "alice", GOOD + "x") is None
    finally:
        database.close()


def test_user_add_prompts_twice(tmp_path: Path) -> None:
    args = ["user", "add", "bob", "--role", "viewer", "--db", _db(tmp_path)]
    result = CliRunner().invoke(app, args, input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    differ = CliRunner().invoke(
        app, ["user", "add", "carol", "--role", "viewer", "--db", _db(tmp_path)],
        input=f"{GOOD}\n{GOOD}-typo\n",
    )  # fmt: skip
    assert differ.exit_code == 2
    assert "differ" in differ.output
    listed = CliRunner().invoke(app, ["user", "list", "--db", _db(tmp_path)])
    assert listed.output.split() == ["bob", "viewer"]


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("", "empty"),
        ("short-1", "too short"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
        ("my-name-is-dave-ok", "username"),
        ("password1234", "well-known"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    tmp_path: Path, password: str, says: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "add", "dave", "--role", "admin", "--db", _db(tmp_path), "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 2
    assert says in result.output
    assert not (tmp_path / "state.db").exists()  # nothing was created


def test_an_existing_user_is_not_overwritten_by_accident(tmp_path: Path) -> None:
    args = ["user", "add", "erin", "--role", "admin", "--db", _db(tmp_path), "--password-stdin"]
    assert CliRunner().invoke(app, args, input=GOOD + "\n").exit_code == 0
    again = CliRunner().invoke(app, args, input="another-long-pass-9\n")
    assert again.exit_code == 2
    assert "already exists" in again.output
    reset = CliRunner().invoke(app, [*args, "--replace"], input="another-long-pass-9\n")
    assert reset.exit_code == 0
    database = Database.open(_db(tmp_path))
    try:
        assert authenticate(database, "erin", "another-long-pass-9") is not None
    finally:
        database.close()


def test_a_bad_username_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "add", "Robert'); DROP", "--role", "admin", "--db", _db(tmp_path)],
        input="",
    )
    assert result.exit_code == 2
    assert "lowercase letters" in result.output
