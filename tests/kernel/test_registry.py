"""Finding plugins by entry point without importing them, and loading them by name with clear failures."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tradekit.errors import DuplicatePluginError, PluginLoadError, UnknownPluginError
from tradekit.plugin import Exchange, Strategy
from tradekit.registry import PluginEntry, Registry

MakeDistribution = Callable[..., Path]

EXCHANGES = "tradekit.exchanges"
STRATEGIES = "tradekit.strategies"

GOOD_EXCHANGE = '''
    from tradekit.plugin import Exchange

    class Binance(Exchange):
        """A fake binance."""
'''

BROKEN_EXCHANGE = """
    raise ImportError("No module named 'ccxt_pro' (needed by fake_broken)")
"""


@pytest.fixture
def installed(make_distribution: MakeDistribution, only_fake_distributions: list[Path]) -> MakeDistribution:
    """Fake distributions, and nothing else but the kernel's built-ins, as what is installed."""
    make_distribution(
        "tradekit-binance",
        "2.1.0",
        {EXCHANGES: {"binance": "fake_binance:Binance"}},
        {"fake_binance.py": GOOD_EXCHANGE},
    )
    make_distribution(
        "fake-broken",
        "0.3",
        {EXCHANGES: {"broken": "fake_broken:Exchange"}},
        {"fake_broken.py": BROKEN_EXCHANGE},
    )
    return make_distribution


def test_entries_list_name_distribution_and_version_without_importing_anything(
    installed: MakeDistribution,
) -> None:
    registry = Registry()

    exchanges = registry.entries("exchange")

    assert PluginEntry("exchange", "binance", "fake_binance:Binance", "tradekit-binance", "2.1.0") in exchanges
    assert PluginEntry("exchange", "broken", "fake_broken:Exchange", "fake-broken", "0.3") in exchanges
    assert [e.name for e in exchanges] == ["binance", "broken", "paper"]
    assert "fake_binance" not in sys.modules
    assert "fake_broken" not in sys.modules


def test_the_kernels_builtins_are_found_through_entry_points_like_any_plugin(
    installed: MakeDistribution,
) -> None:
    registry = Registry()
    assert registry.find("exchange", "paper").distribution == "tradekit"
    assert registry.find("strategy", "sma_cross").value == "tradekit.builtin_strategies:SmaCross"


def test_distributions_lists_each_distribution_with_its_version(installed: MakeDistribution) -> None:
    distributions = Registry().distributions()
    assert distributions["tradekit-binance"] == "2.1.0"
    assert distributions["fake-broken"] == "0.3"


def test_check_reports_a_broken_plugin_with_name_distribution_and_error_and_never_raises(
    installed: MakeDistribution,
) -> None:
    health = {h.entry.name: h for h in Registry().check("exchange")}

    assert health["binance"].ok
    assert health["paper"].ok
    broken = health["broken"]
    assert not broken.ok
    assert broken.entry.distribution == "fake-broken"
    assert broken.error is not None
    assert "ImportError: No module named 'ccxt_pro' (needed by fake_broken)" in broken.error
    assert "fake_broken.py" in broken.error  # where it failed


def test_a_broken_plugin_does_not_stop_another_from_loading(installed: MakeDistribution) -> None:
    registry = Registry()
    registry.check()

    plugin_class = registry.load_class("exchange", "binance")

    assert issubclass(plugin_class, Exchange)
    assert plugin_class.__name__ == "Binance"


def test_loading_a_broken_plugin_raises_naming_the_plugin_its_distribution_and_the_error(
    installed: MakeDistribution,
) -> None:
    with pytest.raises(PluginLoadError) as raised:
        Registry().load_class("exchange", "broken")

    message = str(raised.value)
    assert "exchange 'broken' (fake-broken 0.3) failed to load" in message
    assert "No module named 'ccxt_pro'" in message
    assert "pip install -U fake-broken" in message
    assert raised.value.exit_code == 1


def test_a_plugin_whose_object_is_not_a_subclass_of_its_kinds_base_is_refused(
    make_distribution: MakeDistribution, only_fake_distributions: list[Path]
) -> None:
    make_distribution(
        "wrong-kind",
        "1.0",
        {EXCHANGES: {"strategy_as_exchange": "wrong_kind:NotAnExchange", "function": "wrong_kind:make"}},
        {
            "wrong_kind.py": '''
            from tradekit.plugin import Strategy

            class NotAnExchange(Strategy):
                """A strategy published in the exchanges group."""

            def make():
                return None
        '''
        },
    )
    registry = Registry()

    with pytest.raises(PluginLoadError, match=r"not a subclass of tradekit\.plugin\.Exchange") as raised:
        registry.load_class("exchange", "strategy_as_exchange")
    assert "exchange 'strategy_as_exchange' (wrong-kind 1.0)" in str(raised.value)
    assert "wrong_kind:NotAnExchange" in str(raised.value)

    health = {h.entry.name: h for h in registry.check("exchange")}
    assert health["function"].error is not None
    assert "not a subclass of tradekit.plugin.Exchange" in health["function"].error


def test_an_unknown_name_gives_the_nearest_match_and_the_installed_names(
    make_distribution: MakeDistribution, only_fake_distributions: list[Path]
) -> None:
    for name in ("binance", "hyperliquid"):
        make_distribution(f"tradekit-{name}", "1.0", {EXCHANGES: {name: f"fake_{name}:Connector"}})
    registry = Registry()

    with pytest.raises(UnknownPluginError) as raised:
        registry.find("exchange", "hyperliqud")

    assert str(raised.value) == (
        "unknown exchange 'hyperliqud'; did you mean 'hyperliquid'? installed: binance, hyperliquid, paper"
    )
    assert raised.value.exit_code == 2


def test_an_unknown_name_with_nothing_close_still_lists_what_is_installed(
    installed: MakeDistribution,
) -> None:
    with pytest.raises(UnknownPluginError) as raised:
        Registry().load_class("strategy", "zzz")
    assert str(raised.value) == "unknown strategy 'zzz'; installed: sma_cross"


def test_an_unknown_kind_is_refused_with_the_kinds(installed: MakeDistribution) -> None:
    with pytest.raises(UnknownPluginError, match="unknown plugin kind 'broker'; kinds: exchange, strategy"):
        Registry().find("broker", "paper")


def test_two_distributions_claiming_one_name_is_an_error_naming_both(
    make_distribution: MakeDistribution, only_fake_distributions: list[Path]
) -> None:
    make_distribution("tradekit-grid", "1.0", {STRATEGIES: {"grid": "grid_one:Grid"}})
    make_distribution("someone-elses-grid", "0.9", {STRATEGIES: {"grid": "grid_two:Grid"}})
    registry = Registry()

    with pytest.raises(DuplicatePluginError) as raised:
        registry.load_class("strategy", "grid")

    message = str(raised.value)
    assert "strategy 'grid' is claimed by" in message
    assert "tradekit-grid 1.0 (grid_one:Grid)" in message
    assert "someone-elses-grid 0.9 (grid_two:Grid)" in message
    assert raised.value.exit_code == 2
    assert "grid_one" not in sys.modules and "grid_two" not in sys.modules


def test_the_same_distribution_visible_twice_on_sys_path_is_not_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_dist: MakeDistribution
) -> None:
    # The real importlib.metadata here, not the isolated view: this is about what it does.
    for folder in ("first", "second"):
        site = tmp_path / folder
        write_dist(
            site,
            "tradekit-twice",
            "1.0",
            {STRATEGIES: {"twice_strategy": "twice_strategy:Twice"}},
            {
                "twice_strategy.py": '''
                from tradekit.plugin import Strategy

                class Twice(Strategy):
                    """Installed once, visible twice."""
            '''
            },
        )
        monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    registry = Registry()

    entries = [e for e in registry.entries("strategy") if e.name == "twice_strategy"]

    assert len(entries) == 1
    assert issubclass(registry.load_class("strategy", "twice_strategy"), Strategy)
    sys.modules.pop("twice_strategy", None)


def test_a_plugin_installed_after_an_earlier_load_in_the_same_process_is_found_and_loads(
    tmp_path: Path,
    make_distribution: MakeDistribution,
    only_fake_distributions: list[Path],
    write_dist: MakeDistribution,
) -> None:
    make_distribution(
        "tradekit-binance",
        "2.1.0",
        {EXCHANGES: {"binance": "fake_binance:Binance"}},
        {"fake_binance.py": GOOD_EXCHANGE},
    )
    assert Registry().load_class("exchange", "binance").__name__ == "Binance"
    # Installed later (a second site, as `pip install` in a long-lived process or a test session would).
    later = tmp_path / "later"
    write_dist(
        later,
        "tradekit-kraken",
        "1.0",
        {EXCHANGES: {"kraken": "fake_kraken:Kraken"}},
        {"fake_kraken.py": GOOD_EXCHANGE.replace("Binance", "Kraken")},
    )
    only_fake_distributions.append(later)
    sys.path.insert(0, str(later))
    try:
        assert Registry().load_class("exchange", "kraken").__name__ == "Kraken"
    finally:
        sys.path.remove(str(later))
        sys.modules.pop("fake_kraken", None)


def test_a_registry_scans_once_and_a_new_registry_sees_new_distributions(
    make_distribution: MakeDistribution, only_fake_distributions: list[Path]
) -> None:
    registry = Registry()
    assert registry.names("risk") == []
    make_distribution("tradekit-limits", "1.0", {"tradekit.risk": {"max_position": "limits:MaxPosition"}})

    assert registry.names("risk") == []  # a registry is a snapshot
    assert Registry().names("risk") == ["max_position"]


def test_strict_mode_comes_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Registry().strict is False
    assert Registry(strict=True).strict is True
    monkeypatch.setenv("TRADEKIT_STRICT_PLUGINS", "1")
    assert Registry().strict is True
    assert Registry(strict=False).strict is False
    monkeypatch.setenv("TRADEKIT_STRICT_PLUGINS", "no")
    assert Registry().strict is False


def test_one_walk_over_the_distributions_lists_what_asking_group_by_group_does() -> None:
    # The real environment (the development install's plugins): the registry reads every group
    # from one call to entry_points(); asking for each group on its own must find the same.
    from importlib import metadata

    from tradekit.registry import GROUPS

    for kind, group in GROUPS.items():
        expected: set[PluginEntry] = set()
        for ep in metadata.entry_points(group=group):
            assert ep.dist is not None
            name = ep.dist.metadata["Name"] or ep.dist.name
            expected.add(PluginEntry(kind, ep.name, ep.value, name, ep.dist.version))
        listed = Registry().entries(kind)
        assert {(e.name, e.value, e.distribution, e.version) for e in listed} == {
            (e.name, e.value, e.distribution, e.version) for e in expected
        }
        assert listed == sorted(listed, key=lambda e: (e.name, e.distribution))
