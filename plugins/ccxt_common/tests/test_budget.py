"""The shared weight budget: a sliding window that holds in one process and across several."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tradekit_ccxt.budget import WeightBudget, cache_dir, default_budget_file, key_fingerprint

from tradekit.errors import ConfigError


class Clock:
    """A clock that moves only when the budget sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(tmp_path: Path, clock: Clock, limit: float = 10, period: float = 60) -> WeightBudget:
    return WeightBudget(
        "venue:rest:key", limit, period, tmp_path / "budget.sqlite3", clock=clock.time, sleep=clock.sleep
    )


def test_spends_up_to_the_limit_without_waiting_then_waits_for_the_oldest_spend_to_leave(tmp_path: Path) -> None:
    clock = Clock()
    shared = budget(tmp_path, clock)
    for _ in range(5):
        assert shared.acquire(2) == 0
        clock.now += 1
    assert shared.spent() == 10
    clock.now = 1_010.0
    waited = shared.acquire(2)
    assert waited == pytest.approx(50.0 + shared.margin)  # the first spend (at 1000) leaves at 1060 and a margin
    assert shared.spent() == 2 + 8


def test_a_pause_asked_by_the_venue_holds_every_user_of_the_bucket(tmp_path: Path) -> None:
    clock = Clock()
    first, second = budget(tmp_path, clock), budget(tmp_path, clock)
    first.pause(30)
    assert second.acquire(1) == pytest.approx(30.0)


def test_a_request_heavier_than_the_whole_budget_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="weight 11 can never fit the rate limit of 10"):
        budget(tmp_path, Clock()).acquire(11)


def test_buckets_are_separate(tmp_path: Path) -> None:
    clock = Clock()
    spot = WeightBudget("binance:spot:k", 5, 60, tmp_path / "b.sqlite3", clock=clock.time, sleep=clock.sleep)
    usdm = WeightBudget("binance:usdm:k", 5, 60, tmp_path / "b.sqlite3", clock=clock.time, sleep=clock.sleep)
    assert spot.acquire(5) == 0
    assert usdm.acquire(5) == 0


def test_the_key_is_stored_only_as_a_fingerprint() -> None:
    fingerprint = key_fingerprint("my-very-secret-api-key")
    assert len(fingerprint) == 16
    assert "secret" not in fingerprint
    assert key_fingerprint(None) == "anonymous"


def test_the_budget_file_lives_in_the_cache_folder_which_an_env_var_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    assert default_budget_file() == tmp_path / "cache" / "rate-limits.sqlite3"


_BURST = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from tradekit_ccxt.budget import WeightBudget

    path, start, count = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    shared = WeightBudget("venue:rest:same-key", 20, 1.0, path)
    while time.time() < start:
        time.sleep(0.005)
    spends = []
    for _ in range(count):
        shared.acquire(2)
        spends.append(shared.last_spent_at)
    print(json.dumps(spends))
    """
)


def test_two_processes_bursting_on_one_key_never_exceed_the_limit_together(tmp_path: Path) -> None:
    """20 weight per second, two processes asking 2 weight 15 times each: at most 10 requests in any second."""
    import time

    script = tmp_path / "burst.py"
    script.write_text(_BURST)
    path = tmp_path / "budget.sqlite3"
    WeightBudget("venue:rest:same-key", 20, 1.0, path).spent()  # create the file before the race
    start = time.time() + 1.5
    workers = [
        subprocess.Popen([sys.executable, str(script), str(path), str(start), "15"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    spends = sorted(t for w in workers for t in json.loads(w.communicate(timeout=60)[0]))
    assert len(spends) == 30
    busiest = max(sum(1 for t in spends if s <= t < s + 1.0) for s in spends)
    assert busiest <= 10
    # Both made progress together: 30 requests took about 3 windows, not 6.
    assert spends[-1] - spends[0] < 4.0
