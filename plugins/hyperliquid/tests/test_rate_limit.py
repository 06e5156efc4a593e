"""The request-weight budget holds at the venue under a burst from two tradekit processes on one machine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tradekit_hyperliquid.fake_server import FakeHyperliquid

#: Hyperliquid's documented weights of the requests the burst makes ("Rate limits and user limits").
WEIGHTS = {"metaAndAssetCtxs": 20, "spotMetaAndAssetCtxs": 20, "spotMeta": 20, "allMids": 2}

_BURST = textwrap.dedent(
    """
    import sys, time
    from tradekit_hyperliquid import HyperliquidExchange, HyperliquidSettings

    url, budget_file, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    settings = HyperliquidSettings(api_url=url, rate_limits={"rest": 100}, rate_limit_period=1.0,
                                   rate_limit_file=budget_file)
    exchange = HyperliquidExchange(settings, name="hyperliquid")
    while time.time() < start:
        time.sleep(0.005)
    exchange.connect()
    for _ in range(20):
        exchange.latest_price("BTC/USDC:USDC")
    exchange.close()
    """
)


def test_two_processes_on_one_key_stay_within_the_weight_limit_at_the_venue(
    venue: FakeHyperliquid, tmp_path: Path
) -> None:
    """100 weight a second shared: each process spends 60 connecting and 40 on prices, 200 together."""
    script = tmp_path / "burst.py"
    script.write_text(_BURST)
    start = time.time() + 2.0  # both have imported ccxt by then
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), venue.url, str(tmp_path / "budget.sqlite3"), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
    arrivals = [(r.at, WEIGHTS[r.params["type"]]) for r in venue.requests]
    assert sum(w for _, w in arrivals) == 200
    heaviest = max(sum(w for t, w in arrivals if s <= t < s + 1.0) for s, _ in arrivals)
    assert heaviest <= 100
    assert arrivals[-1][0] - arrivals[0][0] >= 1.0  # the budget made them wait: unthrottled it takes ~0.1 s
