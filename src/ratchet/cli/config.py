"""``ratchet config check FILE``: validate a configuration and print the effective values.

Exit codes: 0 valid, 2 invalid (one ``FILE: key.path: problem`` line per problem on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ratchet.config import ConfigError, RatchetConfig, load_config

EXIT_BAD_INPUT = 2

config_app = typer.Typer(help="The YAML configuration file.", no_args_is_help=True)


@config_app.callback()
def _config() -> None:
    """The YAML configuration: validate it and show what the engine would use."""


def effective(config: RatchetConfig) -> dict[str, Any]:
    """The configuration as JSON-ready data, with every listed pair's merged strategy."""
    data: dict[str, Any] = config.model_dump(mode="json", exclude={"pairs"})
    data["pairs"] = {
        pair: config.strategy_for(pair).model_dump(mode="json") for pair in config.pairs
    }
    return data


def _rows(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_rows(value, path + "."))
        elif isinstance(value, list):
            rows.append((path, ", ".join(map(str, value))))
        elif isinstance(value, bool):
            rows.append((path, str(value).lower()))
        else:
            rows.append((path, "{}" if value == {} else str(value)))
    return rows


@config_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="The YAML file to check.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the effective config as JSON.")
    ] = False,
) -> None:
    """Validate FILE and print the effective configuration (pairs merged with the defaults).

    Example: ratchet config check ratchet.yaml --json
    """
    try:
        config = load_config(file)
    except ConfigError as exc:
        for line in exc.problems:
            typer.echo(line, err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    data = effective(config)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{file}: valid — effective configuration")
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value")
    for path, value in _rows(data):
        table.add_row(path, value)
    Console().print(table)
