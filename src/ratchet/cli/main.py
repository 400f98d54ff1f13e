"""The ``ratchet`` command: one entry point, one sub-command per module.

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or input.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ratchet import __version__
from ratchet.cli.backtest import backtest_command
from ratchet.cli.config import config_app
from ratchet.cli.db import db_app
from ratchet.cli.export import export_command
from ratchet.cli.history import history_command
from ratchet.cli.operate import cancel_command, force_exit_command, liquidate_command
from ratchet.cli.orders import orders_command
from ratchet.cli.run import run_command
from ratchet.cli.signals import signals_command
from ratchet.cli.sim import sim_app
from ratchet.cli.status import status_command
from ratchet.cli.store_dashboard import dashboard_command
from ratchet.cli.user import user_app

app = typer.Typer(
    name="ratchet",
    help="A spot trading engine for Coinbase Advanced Trade: limit entries, ratchet-only stops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("signals")(signals_command)
app.command("run")(run_command)
app.command("backtest")(backtest_command)
app.add_typer(sim_app, name="sim")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(user_app, name="user")
app.command("status")(status_command)
app.command("orders")(orders_command)
app.command("history")(history_command)
app.command("cancel")(cancel_command)
app.command("force-exit")(force_exit_command)
app.command("liquidate")(liquidate_command)
app.command("dashboard")(dashboard_command)
app.command("export")(export_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ratchet {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Ratchet: limit-buy entries on 2-of-3 confirmations, trailing stops that only move up."""


def main() -> None:
    """Console-script entry point."""
    app()
