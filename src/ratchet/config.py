"""The YAML configuration: one file, validated by pydantic, secrets only from the environment.

Sections: ``portfolio`` (risk limits), ``protections``, ``strategy`` (the defaults of every pair),
``pairs`` (per-pair overrides of any strategy key, keyed by product id), ``exchange``, ``store``
and ``web``. Unknown keys are errors. Every non-integer number is a :class:`~decimal.Decimal`
read from the YAML text itself (never through a binary float). :func:`load_config` raises
:class:`ConfigError` with one line per problem::

    ratchet.yaml: pairs.ETH-USD.trail_pct: must be > 0 and < 50, got 120
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml  # type: ignore[import-untyped]
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from ratchet.config_errors import describe, show
from ratchet.config_yaml import ExactLoader
from ratchet.domain.indicators import IndicatorParams
from ratchet.domain.position import TrailPolicy
from ratchet.domain.protections import ProtectionConfig
from ratchet.domain.risk import PortfolioConfig
from ratchet.domain.signals import SignalRules
from ratchet.engine.settings import TraderSettings
from ratchet.store.database import DEFAULT_URL, parse_url
from ratchet.store.errors import StoreConfigError

ENV_API_KEY = "CB_API_KEY"
ENV_API_SECRET = "CB_API_SECRET"
ENV_DB_KEY = "RATCHET_DB_KEY"
PAIR_PATTERN = re.compile(r"[A-Z0-9]{1,12}-[A-Z0-9]{1,12}")


class ConfigError(ValueError):
    """A configuration that cannot be used; ``str`` is one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _exact(value: Any) -> Any:
    """Floats (from code, not YAML) become Decimals through their shortest text; bools refused."""
    if isinstance(value, bool):
        raise PydanticCustomError("number", "expected a number")
    return Decimal(str(value)) if isinstance(value, float) else value


def _bounds(
    lo: int | None = None, hi: int | None = None, *, lo_open: bool = False, hi_open: bool = False
) -> AfterValidator:
    """An AfterValidator checking ``lo (<|<=) value (<|<=) hi`` with a readable message."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    message = "must be " + " and ".join(parts)

    def check(value: Any) -> Any:
        low_ok = lo is None or (value > lo if lo_open else value >= lo)
        high_ok = hi is None or (value < hi if hi_open else value <= hi)
        if not (low_ok and high_ok):
            raise PydanticCustomError("range", message)
        return value

    return AfterValidator(check)


def _pair_id(value: str) -> str:
    if not PAIR_PATTERN.fullmatch(value):
        raise PydanticCustomError("pair", "product id must look like BASE-QUOTE (e.g. ETH-USD)")
    return value


def _web_url(schemes: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise PydanticCustomError("url", f"must be a {' or '.join(schemes)} URL")
        return value

    return AfterValidator(check)


def _nonempty(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must not be empty")
    return value


def _store_url(value: str) -> str:
    try:
        url = parse_url(value)
    except StoreConfigError:
        raise PydanticCustomError(
            "url", "must be sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"
        ) from None
    if url.password:
        raise PydanticCustomError(
            "url", "must not contain a password (set PGPASSWORD in the environment)"
        )
    return value


Num = Annotated[Decimal, BeforeValidator(_exact)]
Positive = Annotated[Num, _bounds(0, lo_open=True)]
NonNegative = Annotated[Num, _bounds(0)]
Percent = Annotated[Num, _bounds(0, 100, lo_open=True)]  # (0, 100]
OffsetPct = Annotated[Num, _bounds(0, 50, hi_open=True)]  # [0, 50)
TrailPct = Annotated[Num, _bounds(0, 50, lo_open=True, hi_open=True)]
RsiLevel = Annotated[Num, _bounds(0, 100, lo_open=True, hi_open=True)]
LossPct = Annotated[Num, _bounds(-100, 0, hi_open=True)]
Period = Annotated[StrictInt, _bounds(2, 10_000)]
Count = Annotated[StrictInt, _bounds(1)]
Candles = Annotated[StrictInt, _bounds(0)]
StopMoves = Literal["edit", "replace"]
Confirmations = Annotated[StrictInt, _bounds(1, 3)]
PairId = Annotated[StrictStr, AfterValidator(_pair_id)]


class Section(BaseModel):
    """Every section: unknown keys are errors; frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class PortfolioSection(Section):
    total_capital: Positive = Decimal(100_000)
    max_position_size_pct: Percent = Decimal(5)
    max_positions: Count = 10
    max_correlated_exposure_pct: Percent = Decimal(20)
    rebalance_threshold_pct: Percent = Decimal(10)
    emergency_liquidation_loss_pct: LossPct = Decimal(-10)
    emergency_liquidation_enabled: StrictBool = False
    correlation_groups: dict[StrictStr, list[PairId]] = {}


class ProtectionsSection(Section):
    enabled: StrictBool = True
    stoploss_trades: Count = 4
    stoploss_window: Positive = Decimal(6 * 3600)
    stoploss_pause: Positive = Decimal(2 * 3600)
    max_drawdown_pct: Percent = Decimal(5)
    drawdown_lock: Positive = Decimal(12 * 3600)


class StrategySection(Section):
    rsi_period: Period = 14
    rsi_below: RsiLevel = Decimal(30)
    macd_fast: Period = 12
    macd_slow: Period = 26
    macd_signal: Period = 9
    macd_min_histogram: NonNegative = Decimal(0)
    vwap_min_premium_pct: OffsetPct = Decimal(0)
    min_confirmations: Confirmations = 2
    trail_pct: TrailPct = Decimal(2)
    min_step_pct: OffsetPct = Decimal("0.1")
    entry_ttl_candles: Count = 3
    stop_limit_offset_pct: OffsetPct = Decimal("0.5")
    min_stop_interval: NonNegative = Decimal(5)
    stranded_stop_after: NonNegative = Decimal(0)
    stop_moves: StopMoves = "edit"
    cooldown_candles: Candles = 0


class PairSection(Section):
    """One pair's overrides: any strategy key; what is left out comes from ``strategy``."""

    rsi_period: Period | None = None
    rsi_below: RsiLevel | None = None
    macd_fast: Period | None = None
    macd_slow: Period | None = None
    macd_signal: Period | None = None
    macd_min_histogram: NonNegative | None = None
    vwap_min_premium_pct: OffsetPct | None = None
    min_confirmations: Confirmations | None = None
    trail_pct: TrailPct | None = None
    min_step_pct: OffsetPct | None = None
    entry_ttl_candles: Count | None = None
    stop_limit_offset_pct: OffsetPct | None = None
    min_stop_interval: NonNegative | None = None
    stranded_stop_after: NonNegative | None = None
    stop_moves: StopMoves | None = None
    cooldown_candles: Candles | None = None


class ExchangeSection(Section):
    rest_url: Annotated[StrictStr, _web_url(("https", "http"))] = "https://api.coinbase.com"
    ws_url: Annotated[StrictStr, _web_url(("wss", "ws"))] = "wss://advanced-trade-ws.coinbase.com"
    ws_user_url: Annotated[StrictStr, _web_url(("wss", "ws"))] = (
        "wss://advanced-trade-ws-user.coinbase.com"
    )


class StoreSection(Section):
    url: Annotated[StrictStr, AfterValidator(_store_url)] = DEFAULT_URL


class WebSection(Section):
    host: Annotated[StrictStr, AfterValidator(_nonempty)] = "127.0.0.1"
    port: Annotated[StrictInt, _bounds(1, 65_535)] = 8080


class RatchetConfig(Section):
    """The whole file; build the domain objects with the methods below."""

    portfolio: PortfolioSection = PortfolioSection()
    protections: ProtectionsSection = ProtectionsSection()
    strategy: StrategySection = StrategySection()
    pairs: dict[PairId, PairSection] = {}
    exchange: ExchangeSection = ExchangeSection()
    store: StoreSection = StoreSection()
    web: WebSection = WebSection()

    def strategy_for(self, pair: str) -> StrategySection:
        """The strategy defaults merged with ``pair``'s overrides (if any)."""
        overrides = self.pairs.get(pair)
        if overrides is None:
            return self.strategy
        return self.strategy.model_copy(update=overrides.model_dump(exclude_none=True))

    def portfolio_config(self) -> PortfolioConfig:
        """The risk gate's limits."""
        p = self.portfolio
        groups = {name: frozenset(pairs) for name, pairs in p.correlation_groups.items()}
        return PortfolioConfig(
            **p.model_dump(exclude={"correlation_groups"}), correlation_groups=groups
        )

    def protection_config(self) -> ProtectionConfig:
        """The stop-loss guard and drawdown lock (durations in seconds)."""
        p = self.protections
        return ProtectionConfig(
            enabled=p.enabled,
            stoploss_trades=p.stoploss_trades,
            stoploss_window=float(p.stoploss_window),
            stoploss_pause=float(p.stoploss_pause),
            max_drawdown_pct=p.max_drawdown_pct,
            drawdown_lock=float(p.drawdown_lock),
        )

    def trader_settings(self, pair: str) -> TraderSettings:
        """``pair``'s settings: the strategy defaults merged with its overrides."""
        s = self.strategy_for(pair)
        return TraderSettings(
            rules=SignalRules(
                rsi_below=float(s.rsi_below),
                macd_min_histogram=float(s.macd_min_histogram),
                vwap_min_premium_pct=float(s.vwap_min_premium_pct),
                min_confirmations=s.min_confirmations,
            ),
            indicators=IndicatorParams(s.rsi_period, s.macd_fast, s.macd_slow, s.macd_signal),
            trail=TrailPolicy(s.trail_pct, s.min_step_pct),
            entry_ttl_candles=s.entry_ttl_candles,
            stop_limit_offset_pct=s.stop_limit_offset_pct,
            min_stop_interval=float(s.min_stop_interval),
            stranded_stop_after=float(s.stranded_stop_after),
            stop_moves=s.stop_moves,
            cooldown_candles=s.cooldown_candles,
        )


@dataclass(frozen=True, slots=True)
class Secrets:
    """Credentials from the environment; ``repr`` never shows them."""

    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    db_key: str | None = field(default=None, repr=False)


def secrets_from_env(environ: Mapping[str, str], *, live: bool) -> Secrets:
    """Read the secrets (an empty variable counts as unset); live trading needs the API key."""
    values = {name: environ.get(name) or None for name in (ENV_API_KEY, ENV_API_SECRET, ENV_DB_KEY)}
    missing = [n for n in (ENV_API_KEY, ENV_API_SECRET) if live and values[n] is None]
    if missing:
        raise ConfigError(
            [f"environment: {n}: required for live trading, not set" for n in missing]
        )
    return Secrets(values[ENV_API_KEY], values[ENV_API_SECRET], values[ENV_DB_KEY])


def _cross_checks(config: RatchetConfig) -> list[tuple[str, str]]:
    problems = []
    scopes = [("strategy", config.strategy)] + [
        (f"pairs.{pair}", config.strategy_for(pair)) for pair in config.pairs
    ]
    for where, s in scopes:
        if s.macd_fast >= s.macd_slow:
            problems.append(
                (f"{where}.macd_fast", f"must be < macd_slow ({s.macd_slow}), got {s.macd_fast}")
            )
    owner: dict[str, str] = {}
    for group, pairs in config.portfolio.correlation_groups.items():
        for pair in pairs:
            if owner.setdefault(pair, group) != group:
                where = f"portfolio.correlation_groups.{group}"
                problems.append((where, f"a pair is in one group only, {pair} is in {owner[pair]}"))
    return problems


def parse_config(data: Any, source: str = "config") -> RatchetConfig:
    """Validate already-parsed YAML; ``source`` prefixes every problem line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: top level must be a mapping of sections, got {show(data)}"])
    try:
        config = RatchetConfig.model_validate(data)
    except ValidationError as exc:
        problems = [describe(e, RatchetConfig) for e in exc.errors(include_url=False)]
        raise ConfigError([f"{source}: {path}: {message}" for path, message in problems]) from None
    cross = _cross_checks(config)
    if cross:
        raise ConfigError([f"{source}: {path}: {message}" for path, message in cross])
    return config


def load_config(path: str | Path) -> RatchetConfig:
    """Read and validate one YAML file; every problem is a line of the :class:`ConfigError`."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([f"{source}: cannot read: {reason}"]) from None
    try:
        data = yaml.load(text, Loader=ExactLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{source}: {where}invalid YAML: {problem}"]) from None
    return parse_config(data, source)
