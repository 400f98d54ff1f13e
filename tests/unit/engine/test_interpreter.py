"""The engine process's event loop: uvloop by default, asyncio's on request."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest

from ratchet.engine.interpreter import (
    LOOP_VARIABLE,
    SWITCH_INTERVAL,
    event_loop_factory,
    run_engine,
    tune_for_latency,
)

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")


async def _loop_module() -> str:
    await asyncio.sleep(0.001)  # a timer and a callback: the loop really ran
    return type(asyncio.get_running_loop()).__module__


def test_the_engine_runs_on_uvloop_by_default() -> None:
    assert run_engine(_loop_module(), environ={}).startswith("uvloop")


def test_the_standard_loop_is_one_variable_away() -> None:
    assert event_loop_factory({LOOP_VARIABLE: "asyncio"}) is None
    assert run_engine(_loop_module(), environ={LOOP_VARIABLE: " AsyncIO "}).startswith("asyncio")
    assert event_loop_factory({LOOP_VARIABLE: ""}) is uvloop.new_event_loop  # empty: default


def test_an_unknown_loop_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"must be uvloop or asyncio, got 'tokio'"):
        event_loop_factory({LOOP_VARIABLE: "tokio"})


def test_an_exception_of_the_engine_comes_out_of_run_engine() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("engine stopped")

    with pytest.raises(RuntimeError, match="engine stopped"):
        run_engine(fails(), environ={})


def test_tuning_freezes_the_heap_and_shortens_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    try:
        tune_for_latency()
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL))
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)
