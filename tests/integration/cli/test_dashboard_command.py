"""``ratchet dashboard`` on the database of a real paper run: figures, --once, live until Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import Result

FINAL = ("CLOSED", "CANCELLED")


def deployed_by_pair(paper_state: Any) -> dict[str, Decimal]:
    """Entry cost (value + fees, pro rata) of what each open position holds, by plain SQL."""
    found: dict[str, Decimal] = {}
    for row in paper_state.rows("select * from positions"):
        quantity = Decimal(row["quantity"])
        if row["status"] in FINAL or not quantity:
            continue
        cost = (Decimal(row["entry_value"]) + Decimal(row["entry_fees"])) * quantity
        found[row["pair"]] = cost / Decimal(row["entry_size"])
    return found


def has_open(pid: int, path: Path, within: float) -> bool:
    """Wait until process ``pid`` holds ``path`` open (it reads the store), up to ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if fd.readlink() == path.resolve():
                        return True
        time.sleep(0.05)
    return False


def test_dashboard_figures_match_the_store(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    # Act
    result = ratchet("dashboard", "--json", "--db", paper_state.url)

    # Assert
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    deployed = deployed_by_pair(paper_state)
    (summary,) = shown["summary"]
    assert abs(Decimal(summary["deployed"]) - sum(deployed.values())) < Decimal("1e-10")
    assert summary["open_positions"] == sum(
        1 for r in paper_state.rows("select status from positions") if r["status"] not in FINAL
    )
    trades = paper_state.trades()
    assert summary["trades"] == len(trades)
    assert Decimal(summary["realized_pnl"]) == sum(Decimal(t["realized_pnl"]) for t in trades)
    lines = {line["pair"]: line for line in shown["pairs"]}
    assert set(lines) == {"ETH-BTC", "TRX-BTC"}
    for pair, line in lines.items():
        mine = [t for t in trades if t["pair"] == pair]
        assert line["trades"] == len(mine)
        assert Decimal(line["realized_pnl"]) == sum(Decimal(t["realized_pnl"]) for t in mine)
        assert abs(Decimal(line["deployed"]) - deployed.get(pair, Decimal(0))) < Decimal("1e-10")
    shares = [Decimal(line["concentration_pct"]) for line in lines.values() if deployed]
    if deployed:
        assert abs(sum(shares) - 100) <= Decimal("0.1")
        biggest = max(deployed, key=lambda p: deployed[p])
        assert Decimal(lines[biggest]["concentration_pct"]) == max(shares)


def test_dashboard_once_renders_the_summary_and_the_pair_table(
    paper_state: Any, ratchet: Callable[..., Result]
) -> None:
    result = ratchet("dashboard", "--once", "--db", paper_state.url)

    assert result.exit_code == 0, result.stderr
    for text in ("portfolio", "deployed", "share", "win rate", "ETH-BTC", "TRX-BTC"):
        assert text in result.stdout
    assert paper_state.url in result.stdout


def test_dashboard_refreshes_until_ctrl_c_then_exits_0(paper_state: Any, tmp_path: Path) -> None:
    # Arrange
    script = Path(sys.executable).with_name("ratchet")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATCHET_DB_")}

    # Act: refresh every 0.2 s for a while, then Ctrl-C (SIGINT)
    process = subprocess.Popen(
        [str(script), "dashboard", "--interval", "0.2", "--db", paper_state.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    opened = has_open(process.pid, paper_state.path, within=30.0)
    time.sleep(1.0)  # a few refreshes
    still_running = process.poll() is None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    # Assert
    assert opened, "the dashboard never opened the database"
    assert still_running, err
    assert process.returncode == 0, err
    assert "portfolio" in out
    assert "Traceback" not in err
