"""Which database the read-only commands read: --db, --paper, RATCHET_DB_URL, --config, default;
encrypted files with RATCHET_DB_KEY; clear errors for what is not a usable database."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

from ratchet.cli.state_db import PAPER_URL, database_url
from ratchet.store.database import DEFAULT_URL
from ratchet.store.encrypt import encrypt_database

KEY = "a key for the read-only command tests"


def copy_state(paper_state: Any, to: Path) -> Path:
    """A private copy of the paper run's database at ``to`` (with its WAL, if any)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(paper_state.path, to)
    wal = paper_state.path.with_name(paper_state.path.name + "-wal")
    if wal.exists():
        shutil.copy(wal, to.with_name(to.name + "-wal"))
    return to


def position_ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return sorted(r["position_id"] for r in json.loads(result.stdout)["positions"])


def test_the_url_precedence_is_db_then_paper_then_environment_then_config_then_default(
    tmp_path: Path,
) -> None:
    config = tmp_path / "ratchet.yaml"
    config.write_text("store:\n  url: sqlite:///from/config.db\n")
    env = {"RATCHET_DB_URL": "sqlite:///from/env.db"}

    assert database_url("sqlite:///given.db", False, config, env) == "sqlite:///given.db"
    assert database_url(None, True, config, env) == PAPER_URL
    assert database_url(None, False, config, env) == "sqlite:///from/env.db"
    assert database_url(None, False, config, {}) == "sqlite:///from/config.db"
    assert database_url(None, False, None, {}) == DEFAULT_URL


def test_db_and_paper_together_are_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        database_url("sqlite:///x.db", True, None, {})

    assert raised.value.exit_code == 2
    assert "give either --db or --paper, not both" in capsys.readouterr().err


def test_paper_reads_state_paper_db_of_the_working_folder(
    paper_state: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ratchet: Callable[..., Result],
) -> None:
    copy_state(paper_state, tmp_path / "state" / "paper.db")
    monkeypatch.chdir(tmp_path)

    by_flag = ratchet("status", "--all", "--json", "--paper")
    by_default = ratchet("status", "--all", "--json")

    expected = sorted(r["position_id"] for r in paper_state.rows("select * from positions"))
    assert position_ids(by_flag) == expected
    assert by_default.exit_code == 2  # state/ratchet.db does not exist here
    assert "no database at state/ratchet.db" in by_default.stderr
    assert not (tmp_path / "state" / "ratchet.db").exists()


def test_the_environment_and_the_config_file_name_the_database(
    paper_state: Any, tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    config = tmp_path / "ratchet.yaml"
    config.write_text(f"store:\n  url: {paper_state.url}\n")

    from_env = ratchet("status", "--json", env={"RATCHET_DB_URL": paper_state.url})
    from_config = ratchet("status", "--json", "--config", str(config))

    assert position_ids(from_env) == position_ids(from_config)
    assert len(position_ids(from_env)) == 2


def test_a_bad_config_file_is_bad_input_with_its_problem_line(
    tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    config = tmp_path / "ratchet.yaml"
    config.write_text("store:\n  url: mysql://nope\n")

    result = ratchet("orders", "--config", str(config))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}: store.url: must be sqlite:///PATH")


def test_an_encrypted_database_opens_with_the_key_and_is_refused_without(
    paper_state: Any, tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    plain = copy_state(paper_state, tmp_path / "plain.db")
    secret = tmp_path / "secret.db"
    encrypt_database(plain, secret, KEY)

    keyed = ratchet(
        "status", "--all", "--json", "--db", f"sqlite:///{secret}", env={"RATCHET_DB_KEY": KEY}
    )
    unkeyed = ratchet("status", "--db", f"sqlite:///{secret}")
    wrong = ratchet("status", "--db", f"sqlite:///{secret}", env={"RATCHET_DB_KEY": "wrong"})

    expected = sorted(r["position_id"] for r in paper_state.rows("select * from positions"))
    assert position_ids(keyed) == expected
    assert unkeyed.exit_code == 2
    assert "it is encrypted (set RATCHET_DB_KEY)" in unkeyed.stderr
    assert wrong.exit_code == 2
    assert "wrong key" in wrong.stderr


def test_a_database_without_the_ratchet_schema_fails_and_is_not_migrated(
    tmp_path: Path, ratchet: Callable[..., Result]
) -> None:
    empty = tmp_path / "empty.db"
    with contextlib.closing(sqlite3.connect(empty)) as db:
        db.execute("create table notes (text)")

    result = ratchet("history", "--db", f"sqlite:///{empty}")

    assert result.exit_code == 1
    assert "not a ratchet database" in result.stderr
    with contextlib.closing(sqlite3.connect(empty)) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert tables == {"notes"}


@pytest.mark.parametrize("command", ["status", "orders", "history", "dashboard", "export"])
def test_every_command_has_help_with_an_example(
    command: str, ratchet: Callable[..., Result]
) -> None:
    result = ratchet(command, "--help")

    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"ratchet {command}" in result.stdout
    assert "--db" in result.stdout
