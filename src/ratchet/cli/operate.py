"""``ratchet cancel``, ``ratchet force-exit``, ``ratchet liquidate``: the operator's hands.

When an engine runs on the database (it holds the database's lock, ``store/lock.py``), the
command goes through that engine's web API, logged in as ``RATCHET_USER`` with
``RATCHET_PASSWORD`` (asked for when unset). When no engine runs, the command takes the lock
itself for the whole operation and acts on the exchange and the store directly
(``engine/offline.py``): the pair's trader is restored and reconciled as on a restart, then
carries out the request, with the API keys of ``CB_API_KEY`` / ``CB_API_SECRET`` and the
``exchange.rest_url`` of ``--config``. Either way the request is audited with who
(``cli:<login user>`` offline, the web user otherwise), when and why (``--reason``).

Each command first shows exactly what it will do and asks for confirmation; ``--yes`` skips
the question, and without a terminal ``--yes`` is required.

Exit codes: 0 done; 1 failed, declined, refused (a stop is never cancelled on its own), or
nothing to act on (no open position of the pair, no working order with the id); 2 bad input
(a malformed pair, a bad config, missing API keys, no terminal without ``--yes``).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from ratchet.cli.engine_api import EngineApi, EngineApiError, login_from_env_or_prompt
from ratchet.cli.state_db import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    KEY_VARIABLE,
    ConfigOption,
    DbOption,
    JsonOption,
    PaperOption,
    database_url,
    fail,
    print_json,
    reported,
)
from ratchet.coinbase.auth import Credentials, CredentialsError, credentials_from_env
from ratchet.coinbase.client import CoinbaseExchange
from ratchet.coinbase.rest import RestTransport
from ratchet.config import ConfigError, RatchetConfig, load_config
from ratchet.domain.orders import OperatorAction, OperatorCommand
from ratchet.engine.offline import (
    OfflineOperator,
    OperatorError,
    Outcome,
    plan_cancel,
    plan_force_exit,
    plan_liquidation,
)
from ratchet.engine.settings import TraderSettings
from ratchet.ports import ExchangeError, StoredState
from ratchet.store.database import parse_url
from ratchet.store.lock import EngineInfo, EngineLock, EngineRunning
from ratchet.store.sql_store import SqlStore

DEFAULT_REASON = "operator request from the CLI"
PAIR_FORM = re.compile(r"[A-Z0-9]{1,12}-[A-Z0-9]{1,12}")
API_PATH = "/api/v3/brokerage"

ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why (kept in the audit log with who and when).")
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do it without asking (required without a terminal).")
]


@dataclass(frozen=True, slots=True)
class Request:
    """One operator request: the command, what it is about, why."""

    command: str  # "cancel" | "force-exit" | "liquidate"
    target: str  # the order id, the pair, or "" for liquidate
    reason: str


@dataclass(slots=True)
class Report:
    """What was done, for the screen or ``--json``."""

    command: str
    via: str  # "store" (no engine ran) or "engine" (its web API)
    ok: bool
    restart: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    engine_answer: Any = None


def cancel_command(
    order_id: Annotated[str, typer.Argument(help="client_order_id or exchange order id.")],
    reason: ReasonOption = DEFAULT_REASON,
    yes: YesOption = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a working entry order. A stop is never cancelled alone: use force-exit.

    Example: ratchet cancel rt-ETH-BTC-000003-entry-1 --reason "signal is stale"
    """
    request = Request("cancel", order_id.strip(), reason)
    _operate(request, yes=yes, json_out=json_out, db=db, paper=paper, config=config)


def force_exit_command(
    pair: Annotated[str, typer.Argument(help="The pair whose position to exit, e.g. ETH-BTC.")],
    reason: ReasonOption = DEFAULT_REASON,
    yes: YesOption = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Exit one position now: cancel its stop (and a working entry), then sell at market.

    Example: ratchet force-exit ETH-BTC --reason "exchange incident" --yes
    """
    wanted = pair.strip().upper()
    if not PAIR_FORM.fullmatch(wanted):
        raise fail(f"not a pair: {pair!r} (expected BASE-QUOTE, e.g. ETH-BTC)", EXIT_BAD_INPUT)
    request = Request("force-exit", wanted, reason)
    _operate(request, yes=yes, json_out=json_out, db=db, paper=paper, config=config)


def liquidate_command(
    reason: ReasonOption = DEFAULT_REASON,
    yes: YesOption = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    paper: PaperOption = False,
    config: ConfigOption = None,
) -> None:
    """Emergency liquidation: force-exit every open position (each sold at market).

    Example: ratchet liquidate --reason "going offline" --yes
    """
    request = Request("liquidate", "", reason)
    _operate(request, yes=yes, json_out=json_out, db=db, paper=paper, config=config)


# -- the common path ------------------------------------------------------------------------
def _operate(
    request: Request,
    *,
    yes: bool,
    json_out: bool,
    db: str | None,
    paper: bool,
    config: Path | None,
) -> None:
    if not request.reason.strip():
        raise fail("--reason must not be empty", EXIT_BAD_INPUT)
    if not request.target and request.command != "liquidate":
        raise fail("the order id must not be empty", EXIT_BAD_INPUT)
    url = database_url(db, paper, config)
    settings = _config(config)
    if not yes and not sys.stdin.isatty():
        raise fail(
            "no terminal to confirm on: add --yes to run without confirmation", EXIT_BAD_INPUT
        )
    with reported():
        _require_database(url)
        report = asyncio.run(_carry_out(request, url, settings, yes=yes, json_out=json_out))
    if json_out:
        print_json(asdict(report))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


async def _carry_out(
    request: Request, url: str, config: RatchetConfig | None, *, yes: bool, json_out: bool
) -> Report:
    try:
        lock = EngineLock.acquire(url)
    except EngineRunning as running:
        return await _through_engine(request, url, config, running.info, yes=yes, json_out=json_out)
    with lock:
        return await _offline(request, url, config, yes=yes, json_out=json_out)


async def _offline(
    request: Request, url: str, config: RatchetConfig | None, *, yes: bool, json_out: bool
) -> Report:
    """No engine runs: act on the exchange and the store, holding the lock."""
    store = await SqlStore.open(url, key=os.environ.get(KEY_VARIABLE) or None, migrate=False)
    try:
        state = await store.load({})
        settings_for = _settings_for(config)
        plan = _plan(request, state, settings_for)
        if plan is None:
            return Report(request.command, "store", True, lines=["no open position: nothing to do"])
        credentials = _credentials()
        note = "no engine is running: acting on the exchange and the store directly"
        _show([*plan, note], err=json_out)
        _confirm(request, yes)
        action = _action(request)
        exchange = CoinbaseExchange(RestTransport(_rest_url(config), credentials))
        operator = OfflineOperator(exchange, store, settings_for)
        try:
            outcomes = await _run_offline(operator, request, action)
        except OperatorError as exc:
            raise fail(str(exc), EXIT_FAILED) from None
        except ExchangeError as exc:
            raise fail(
                f"the exchange failed: {exc}; what was done is in the store, and the next run "
                "(of this command or of the engine) picks up from there",
                EXIT_FAILED,
            ) from None
        finally:
            await exchange.close()
    finally:
        await store.close()
    ok = all(outcome.done for outcome in outcomes)
    return Report(request.command, "store", ok, operator.restart_lines, outcomes)


async def _run_offline(
    operator: OfflineOperator, request: Request, action: OperatorAction
) -> list[Outcome]:
    if request.command == "cancel":
        return [await operator.cancel(request.target, action)]
    if request.command == "force-exit":
        return [await operator.force_exit(request.target, action)]
    return await operator.liquidate(action)


async def _through_engine(
    request: Request,
    url: str,
    config: RatchetConfig | None,
    info: EngineInfo | None,
    *,
    yes: bool,
    json_out: bool,
) -> Report:
    """An engine holds the lock: ask it through its web API."""
    if info is None or not info.web_url:
        pid = info.pid if info is not None else "unknown"
        raise fail(
            f"an engine is running (pid {pid}) without a web API: stop it (its stops stay on "
            "the exchange) and run this again, or restart it with its web interface",
            EXIT_FAILED,
        )
    store = await SqlStore.open(url, key=os.environ.get(KEY_VARIABLE) or None, migrate=False)
    try:
        state = await store.load({})
    finally:
        await store.close()
    plan = _plan(request, state, _settings_for(config))
    if plan is None:
        return Report(request.command, "engine", True, lines=["no open position: nothing to do"])
    _show([*plan, f"an engine is running ({info.describe()}): asking it"], err=json_out)
    _confirm(request, yes)
    try:
        user, password = login_from_env_or_prompt(interactive=sys.stdin.isatty())
    except EngineApiError as exc:
        raise fail(str(exc), EXIT_BAD_INPUT) from None
    try:
        async with EngineApi(info.web_url) as api:
            await api.login(user, password)
            answer = await api.send(request.command, request.target, request.reason)
    except EngineApiError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    lines = [f"the engine at {info.web_url} accepted the {request.command} (logged in as {user})"]
    return Report(request.command, "engine", True, lines=lines, engine_answer=answer)


# -- pieces ---------------------------------------------------------------------------------
def _plan(
    request: Request, state: StoredState, settings_for: Callable[[str], TraderSettings]
) -> list[str] | None:
    """What will happen, line by line (None: nothing to do); refusals exit 1."""
    try:
        if request.command == "cancel":
            planned_cancel = plan_cancel(state, request.target, _prefix(state, settings_for))
            lines = planned_cancel.lines()
        elif request.command == "force-exit":
            lines = ["force-exit:", *plan_force_exit(state, request.target).lines()]
        else:
            exits = plan_liquidation(state)
            if not exits:
                return None
            lines = [f"emergency liquidation of {len(exits)} positions:"]
            for planned in exits:
                lines.extend(planned.lines())
    except OperatorError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    return [*lines, f"reason: {request.reason} (by {_actor()})"]


def _prefix(state: StoredState, settings_for: Callable[[str], TraderSettings]) -> str:
    pairs = sorted({record.order.product_id for record in state.orders})
    return settings_for(pairs[0]).id_prefix if pairs else TraderSettings().id_prefix


def _confirm(request: Request, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(f"{request.command}: go ahead?", default=False):
        raise fail("declined: nothing was done", EXIT_FAILED)


def _action(request: Request) -> OperatorAction:
    command = {
        "cancel": OperatorCommand.CANCEL,
        "force-exit": OperatorCommand.FORCE_EXIT,
        "liquidate": OperatorCommand.EMERGENCY_LIQUIDATION,
    }[request.command]
    return OperatorAction(command, _actor(), request.reason.strip(), int(time.time()))


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


def _config(path: Path | None) -> RatchetConfig | None:
    if path is None:
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _settings_for(config: RatchetConfig | None) -> Callable[[str], TraderSettings]:
    if config is None:
        return lambda _pair: TraderSettings()
    return config.trader_settings


def _rest_url(config: RatchetConfig | None) -> str:
    """``exchange.rest_url`` with the Advanced Trade path added when it is missing."""
    base = (config.exchange.rest_url if config else "https://api.coinbase.com").rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def _credentials() -> Credentials:
    try:
        return credentials_from_env(os.environ)
    except CredentialsError as exc:
        raise fail(f"{exc} (acting without an engine needs the API key)", EXIT_BAD_INPUT) from None


def _require_database(url: str) -> None:
    parsed = parse_url(url)
    if parsed.drivername != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.is_file():
        raise fail(
            f"no database at {path}: name one with --db URL, --config FILE or --paper",
            EXIT_BAD_INPUT,
        )


def _show(lines: list[str], *, err: bool) -> None:
    """Messages for the operator: on stdout, or on stderr when stdout carries JSON."""
    for line in lines:
        typer.echo(line, err=err)


def _print(report: Report) -> None:
    for line in report.restart:
        typer.echo(f"restart check: {line}")
    for outcome in report.outcomes:
        mark = "done" if outcome.done else "NOT DONE"
        typer.echo(f"{outcome.pair}: {mark}")
        for line in outcome.lines:
            typer.echo(f"  {line}")
    for line in report.lines:
        typer.echo(line)
