"""The YAML configuration: defaults, per-pair merges, exact decimals, one message per problem."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ratchet.cli.config import config_app
from ratchet.config import ConfigError, RatchetConfig, load_config, secrets_from_env
from ratchet.domain.protections import ProtectionConfig
from ratchet.domain.risk import PortfolioConfig
from ratchet.engine.settings import TraderSettings

EXAMPLE = Path(__file__).parents[2] / "config.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ratchet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).splitlines()


def test_example_file_loads_and_equals_the_defaults() -> None:
    config = load_config(EXAMPLE)

    assert config == RatchetConfig()
    assert config.portfolio_config() == PortfolioConfig()
    assert config.protection_config() == ProtectionConfig()
    assert config.trader_settings("ETH-USD") == TraderSettings()
    assert config.store.url == "sqlite:///state/ratchet.db"
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8080)
    assert config.exchange.rest_url == "https://api.coinbase.com"


def test_example_file_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, model in RatchetConfig.model_fields.items():
        assert f"\n{section}:" in text
        for key in getattr(model.annotation, "model_fields", {}):
            assert f"  {key}: " in text, f"{section}.{key} is not in the example"


def test_pair_overrides_merge_with_the_strategy_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "strategy: {rsi_period: 21, trail_pct: 2.5}\n"
        "pairs:\n  ETH-USD: {trail_pct: 3, rsi_below: 35.5, cooldown_candles: 2,"
        " stop_moves: replace}\n",
    )

    config = load_config(path)
    eth = config.trader_settings("ETH-USD")
    other = config.trader_settings("BTC-USD")

    assert eth.trail.trail_pct == Decimal(3)
    assert eth.rules.rsi_below == 35.5
    assert eth.cooldown_candles == 2
    assert eth.indicators.rsi_period == 21  # from strategy
    assert eth.trail.min_step_pct == Decimal("0.1")  # from the built-in default
    assert other.trail.trail_pct == Decimal("2.5")
    assert other.cooldown_candles == 0
    assert (eth.stop_moves, other.stop_moves) == ("replace", "edit")


def test_correlation_groups_become_frozensets(tmp_path: Path) -> None:
    path = write(tmp_path, "portfolio:\n  correlation_groups: {majors: [BTC-USD, ETH-USD]}\n")

    portfolio = load_config(path).portfolio_config()

    assert portfolio.correlation_groups == {"majors": frozenset({"BTC-USD", "ETH-USD"})}
    assert portfolio.group_of("ETH-USD") == "majors"


def test_floats_become_exact_decimals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "portfolio: {total_capital: 1234.56}\n"
        "strategy:\n  trail_pct: 2.1\n  min_step_pct: 0.1\n"
        "  stop_limit_offset_pct: 0.30000000000000001\n",
    )

    config = load_config(path)

    assert config.portfolio.total_capital == Decimal("1234.56")
    assert config.strategy.trail_pct == Decimal("2.1")
    assert config.trader_settings("X-Y").trail.trail_pct == Decimal("2.1")
    assert config.strategy.min_step_pct == Decimal("0.1")
    assert config.strategy.stop_limit_offset_pct == Decimal("0.30000000000000001")
    assert RatchetConfig.model_validate({"strategy": {"trail_pct": 2.1}}).strategy.trail_pct == (
        Decimal("2.1")
    )


BAD_CONFIGS = [
    pytest.param(
        "pairs:\n  ETH-USD: {trail_pct: 120}\n",
        "pairs.ETH-USD.trail_pct: must be > 0 and < 50, got 120",
        id="pair-trail-out-of-range",
    ),
    pytest.param(
        "strategy: {trail_pct: 0}\n",
        "strategy.trail_pct: must be > 0 and < 50, got 0",
        id="trail-0",
    ),
    pytest.param(
        "portfolio: {total_capital: -5}\n",
        "portfolio.total_capital: must be > 0, got -5",
        id="negative-capital",
    ),
    pytest.param(
        "strategy: {min_confirmations: 4}\n",
        "strategy.min_confirmations: must be >= 1 and <= 3, got 4",
        id="min-confirmations-4",
    ),
    pytest.param(
        "strategy: {rsi_period: 1}\n",
        "strategy.rsi_period: must be >= 2 and <= 10000, got 1",
        id="period-1",
    ),
    pytest.param(
        "portfolio: {max_positions: three}\n",
        "portfolio.max_positions: expected an integer, got 'three'",
        id="wrong-type-int",
    ),
    pytest.param(
        "portfolio: {max_positions: 2.5}\n",
        "portfolio.max_positions: expected an integer, got 2.5",
        id="fraction-for-int",
    ),
    pytest.param(
        "strategy: {rsi_below: low}\n",
        "strategy.rsi_below: expected a number, got 'low'",
        id="wrong-type-number",
    ),
    pytest.param(
        "portfolio: {emergency_liquidation_enabled: 'yes'}\n",
        "portfolio.emergency_liquidation_enabled: expected true or false, got 'yes'",
        id="wrong-type-bool",
    ),
    pytest.param(
        "portfolio: {emergency_liquidation_loss_pct: 5}\n",
        "portfolio.emergency_liquidation_loss_pct: must be >= -100 and < 0, got 5",
        id="loss-pct-positive",
    ),
    pytest.param(
        "protections: {max_drawdown_pct: 150}\n",
        "protections.max_drawdown_pct: must be > 0 and <= 100, got 150",
        id="drawdown-over-100",
    ),
    pytest.param(
        "pairs:\n  ETH-USD: {stop_moves: move}\n",
        "pairs.ETH-USD.stop_moves: expected 'edit' or 'replace', got 'move'",
        id="stop-moves-unknown",
    ),
    pytest.param("strategy: 3\n", "strategy: expected a mapping, got 3", id="section-not-mapping"),
    pytest.param(
        "strategy: {trail_pct: .inf}\n",
        "strategy.trail_pct: expected a finite number, got Infinity",
        id="infinite",
    ),
    pytest.param(
        "stratgy: {}\n", "stratgy: unknown key (did you mean 'strategy'?)", id="unknown-top-key"
    ),
    pytest.param(
        "strategy: {trial_pct: 2}\n",
        "strategy.trial_pct: unknown key (did you mean 'trail_pct'?)",
        id="unknown-nested-key",
    ),
    pytest.param(
        "pairs:\n  ETH-USD: {colour: red}\n",
        "pairs.ETH-USD.colour: unknown key (expected one of rsi_period, rsi_below,",
        id="unknown-pair-key",
    ),
    pytest.param(
        "pairs:\n  eth-usd: {trail_pct: 3}\n",
        "pairs.eth-usd: product id must look like BASE-QUOTE (e.g. ETH-USD), got 'eth-usd'",
        id="bad-pair-id",
    ),
    pytest.param(
        "portfolio:\n  correlation_groups: {majors: [BTC-USD, ETHUSD]}\n",
        "portfolio.correlation_groups.majors[1]: product id must look like BASE-QUOTE",
        id="bad-pair-in-group",
    ),
    pytest.param(
        "pairs:\n  ETH-USD: {macd_fast: 30}\n",
        "pairs.ETH-USD.macd_fast: must be < macd_slow (26), got 30",
        id="macd-fast-not-below-slow",
    ),
    pytest.param(
        "exchange: {ws_url: 'https://example.com'}\n",
        "exchange.ws_url: must be a wss or ws URL, got 'https://example.com'",
        id="ws-url-scheme",
    ),
    pytest.param(
        "store: {url: 'postgresql://bot:hunter2@db/ratchet'}\n",
        "store.url: must not contain a password (set PGPASSWORD in the environment), "
        "got 'postgresql://bot:***@db/ratchet'",
        id="password-in-store-url",
    ),
    pytest.param(
        "web: {port: 70000}\n", "web.port: must be >= 1 and <= 65535, got 70000", id="bad-port"
    ),
    pytest.param(
        "strategy:\n  trail_pct: [2\n",
        "line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        id="yaml-syntax-error",
    ),
    pytest.param(
        "strategy: {}\nstrategy: {}\n",
        "line 2, column 1: invalid YAML: duplicate key 'strategy'",
        id="duplicate-key",
    ),
    pytest.param(
        "- portfolio\n", "top level must be a mapping of sections, got a list", id="not-a-mapping"
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_bad_config_gives_its_specific_message(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)

    lines = problems(path)

    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {expected}")
    assert "hunter2" not in lines[0]


def test_several_problems_give_several_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "strategy: {trail_pct: 60, rsi_period: x}\nweb: {hots: a}\n")

    lines = problems(path)

    assert lines == [
        f"{path}: strategy.rsi_period: expected an integer, got 'x'",
        f"{path}: strategy.trail_pct: must be > 0 and < 50, got 60",
        f"{path}: web.hots: unknown key (did you mean 'host'?)",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing set\n")) == RatchetConfig()


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, ["CB_API_KEY", "CB_API_SECRET"]),
        ({"CB_API_KEY": "organizations/x/apiKeys/y"}, ["CB_API_SECRET"]),
        ({"CB_API_KEY": "", "CB_API_SECRET": "pem-secret"}, ["CB_API_KEY"]),
    ],
)
def test_missing_secret_when_live_names_the_variable(
    environ: dict[str, str], missing: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        secrets_from_env(environ, live=True)

    assert str(caught.value).splitlines() == [
        f"environment: {name}: required for live trading, not set" for name in missing
    ]
    assert "pem-secret" not in str(caught.value)


def test_secrets_come_from_the_environment_and_never_show() -> None:
    environ = {"CB_API_KEY": "k-123", "CB_API_SECRET": "s-456", "RATCHET_DB_KEY": "d-789"}

    secrets = secrets_from_env(environ, live=True)
    paper = secrets_from_env({}, live=False)

    assert (secrets.api_key, secrets.api_secret, secrets.db_key) == ("k-123", "s-456", "d-789")
    assert not {"k-123", "s-456", "d-789"} & set(repr(secrets).replace("'", " ").split())
    assert (paper.api_key, paper.db_key) == (None, None)


runner = CliRunner()


def test_cli_check_prints_the_effective_config() -> None:
    result = runner.invoke(config_app, ["check", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert "strategy.trail_pct" in result.stdout
    assert "valid" in result.stdout


def test_cli_check_json_has_merged_pairs(tmp_path: Path) -> None:
    path = write(tmp_path, "strategy: {trail_pct: 2.1}\npairs:\n  ETH-USD: {rsi_below: 35}\n")

    result = runner.invoke(config_app, ["check", str(path), "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert Decimal(data["strategy"]["trail_pct"]) == Decimal("2.1")
    assert Decimal(data["pairs"]["ETH-USD"]["rsi_below"]) == 35
    assert Decimal(data["pairs"]["ETH-USD"]["trail_pct"]) == Decimal("2.1")
    assert data["web"] == {"host": "127.0.0.1", "port": 8080}


def test_cli_check_bad_config_exits_2_with_the_problem_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs:\n  ETH-USD: {trail_pct: 120}\nextra: 1\n")

    result = runner.invoke(config_app, ["check", str(path), "--json"])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: pairs.ETH-USD.trail_pct: must be > 0 and < 50, got 120",
        f"{path}: extra: unknown key (expected one of portfolio, protections, strategy, pairs, "
        "exchange, store, web)",
    ]
    assert "Traceback" not in result.output
