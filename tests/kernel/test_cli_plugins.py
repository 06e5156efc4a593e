"""``tradekit plugins`` and plugin failures as a user meets them: run the command, read what it says.

Most tests run ``python -m tradekit.cli.main`` in a fresh interpreter with fake
distributions on ``PYTHONPATH`` (see ``plugin_cli`` in conftest): a broken plugin
whose import raises, and a plugin that imports ccxt (a fake one that leaves a
marker file when imported). Each command is run once per module and its
result shared.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tradekit.cli.main import cli

HEAVY_MODULES = ("ccxt", "pandas", "pyarrow", "plotly")


class Ran:
    """One run of the command: the process, and whether the fake ccxt was imported."""

    def __init__(self, process: subprocess.CompletedProcess[str], marker: Path) -> None:
        self.process = process
        self.code = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.imported_ccxt = marker.exists()


@pytest.fixture(scope="module")
def tradekit(plugin_cli: Any) -> Callable[..., Ran]:
    """``tradekit(*args, **env)``: run the command once per distinct arguments and environment."""
    runs: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Ran] = {}

    def run(*args: str, **env: str) -> Ran:
        key = (args, tuple(sorted(env.items())))
        if key not in runs:
            marker = plugin_cli.workdir / f"ccxt-marker-{len(runs)}"
            process = plugin_cli(*args, env={**env, "TK_CCXT_MARKER": str(marker)})
            runs[key] = Ran(process, marker)
        return runs[key]

    return run


def table_text(output: str) -> str:
    """The words of a rich table, joined: a cell's text wrapped over several rows reads as one line again."""
    return " ".join(output.replace("│", " ").split())


def assert_no_traceback(ran: Ran) -> None:
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stdout, ran.stdout


# --- listing ----------------------------------------------------------------------------------------


def test_plugins_list_shows_a_broken_plugin_without_importing_it(tradekit: Callable[..., Ran]) -> None:
    ran = tradekit("plugins", "list")

    assert ran.code == 0, ran.stderr
    rows = [line for line in ran.stdout.splitlines() if " broken " in line]
    assert len(rows) == 1
    assert "fake-broken" in rows[0] and "1.0" in rows[0] and "not checked" in rows[0]
    assert "cannot start" not in ran.stdout + ran.stderr  # nothing was imported to find out
    assert not ran.imported_ccxt
    assert_no_traceback(ran)


def test_plugins_list_check_imports_each_plugin_and_shows_the_broken_one_as_an_error(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("plugins", "list", "--check")

    assert ran.code == 0, ran.stderr
    assert "RuntimeError: fake_broken cannot start: the venue SDK is missing" in table_text(ran.stdout)
    broken_row = next(line for line in ran.stdout.splitlines() if " broken " in line)
    assert "error" in broken_row
    heavy_row = next(line for line in ran.stdout.splitlines() if " heavyex " in line)
    assert " ok " in heavy_row
    assert ran.imported_ccxt, "--check imports every plugin, so the marker proves the test can see an import"
    assert_no_traceback(ran)


def test_strict_plugins_flag_turns_a_broken_plugin_into_a_failure(tradekit: Callable[..., Ran]) -> None:
    ran = tradekit("--strict-plugins", "plugins", "list")

    assert ran.code != 0
    assert "fake_broken cannot start" in table_text(ran.stdout)
    assert_no_traceback(ran)


def test_strict_plugins_environment_variable_turns_a_broken_plugin_into_a_failure(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("plugins", "list", TRADEKIT_STRICT_PLUGINS="1")

    assert ran.code != 0
    assert "fake_broken cannot start" in table_text(ran.stdout)
    assert_no_traceback(ran)


def test_plugins_list_json_has_kind_name_distribution_version_and_status(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("plugins", "list", "--json")

    assert ran.code == 0, ran.stderr
    rows = json.loads(ran.stdout)
    by_name = {row["name"]: row for row in rows}
    assert by_name["broken"] == {
        "kind": "exchange",
        "name": "broken",
        "distribution": "fake-broken",
        "version": "1.0",
        "entry_point": "fake_broken:Exchange",
        "status": "not checked",
    }
    assert by_name["sma_cross"]["kind"] == "strategy"
    assert by_name["sma_cross"]["distribution"] == "tradekit"
    for row in rows:
        assert {"kind", "name", "distribution", "version", "status"} <= row.keys()
    assert not ran.imported_ccxt


# --- one plugin ---------------------------------------------------------------------------------------


def test_plugins_info_shows_a_strategys_settings_with_their_defaults(tradekit: Callable[..., Ran]) -> None:
    ran = tradekit("plugins", "info", "sma_cross")

    assert ran.code == 0, ran.stderr
    rows = {line.split()[1]: line for line in ran.stdout.splitlines() if line.startswith("│ ")}
    assert "int" in rows["fast"] and " 10 " in rows["fast"]
    assert "int" in rows["slow"] and " 30 " in rows["slow"]
    assert "[plugins.strategy.sma_cross]" in ran.stdout


def test_plugins_info_of_an_unknown_name_exits_2_listing_what_is_installed(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("plugins", "info", "nosuch")

    assert ran.code == 2
    assert "error: unknown plugin 'nosuch'; installed: " in ran.stderr
    assert "sma_cross" in ran.stderr and "broken" in ran.stderr
    assert_no_traceback(ran)


def test_plugins_info_of_a_misspelled_name_suggests_the_nearest(run_main: Callable[..., Any]) -> None:
    result = run_main("plugins", "info", "sma_cros")

    assert result.exit_code == 2
    assert "unknown plugin 'sma_cros'; did you mean 'sma_cross'?" in result.stderr


def test_plugins_info_json_describes_settings_for_scripts() -> None:
    result = CliRunner().invoke(cli, ["plugins", "info", "sma_cross", "--json"])

    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    settings = {setting["name"]: setting for setting in described["settings"]}
    assert settings["fast"]["default"] == 10
    assert settings["slow"]["default"] == 30
    assert settings["fast"]["type"] == "int"
    assert described["config_table"] == "[plugins.strategy.sma_cross]"


def test_plugins_list_marks_two_distributions_claiming_one_name(
    make_distribution: Callable[..., Path], only_fake_distributions: list[Path]
) -> None:
    make_distribution("tradekit-grid", "1.0", {"tradekit.strategies": {"grid": "grid_one:Grid"}})
    make_distribution("other-grid", "2.0", {"tradekit.strategies": {"grid": "grid_two:Grid"}})

    result = CliRunner().invoke(cli, ["plugins", "list", "--json", "--kind", "strategy"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    grids = [row for row in rows if row["name"] == "grid"]
    assert sorted(row["distribution"] for row in grids) == ["other-grid", "tradekit-grid"]
    assert {row["status"] for row in grids} == {"duplicate name"}
    assert {row["kind"] for row in rows} == {"strategy"}


# --- plugins named for a run ------------------------------------------------------------------------


def test_a_misspelled_strategy_exits_2_with_the_nearest_name_and_no_traceback(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("backtest", "--strategy", "sma_cros")

    assert ran.code == 2
    assert "unknown strategy 'sma_cros'; did you mean 'sma_cross'?" in ran.stderr
    assert_no_traceback(ran)


def test_a_configured_exchange_that_fails_to_import_stops_the_run_naming_plugin_distribution_and_error(
    tradekit: Callable[..., Ran],
) -> None:
    ran = tradekit("backtest", "--exchange", "broken", "--strategy", "sma_cross")

    assert ran.code != 0
    assert "exchange 'broken' (fake-broken 1.0) failed to load" in ran.stderr
    assert "RuntimeError: fake_broken cannot start: the venue SDK is missing" in ran.stderr
    assert_no_traceback(ran)
    # stevedore's own "Could not load" warning would only repeat the message.
    assert "stevedore" not in ran.stderr


def test_help_and_version_keep_working_with_a_broken_plugin_installed(tradekit: Callable[..., Ran]) -> None:
    help_ran = tradekit("--help")
    version_ran = tradekit("--version")

    assert help_ran.code == 0, help_ran.stderr
    assert "plugins" in help_ran.stdout and "backtest" in help_ran.stdout
    assert version_ran.code == 0, version_ran.stderr
    assert version_ran.stdout.startswith("tradekit ")
    assert "fake-broken 1.0" in version_ran.stdout
    assert "tradekit-fake-heavy 0.2" in version_ran.stdout
    for ran in (help_ran, version_ran):
        assert_no_traceback(ran)
        assert not ran.imported_ccxt


# --- start-up stays light ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("plugins", "list"),
        ("plugins", "list", "--json"),
        ("--version",),
        ("backtest", "--strategy", "sma_cross", "--exchange", "paper", "--help"),
    ],
    ids=" ".join,
)
def test_commands_that_name_no_heavy_plugin_do_not_import_ccxt(
    tradekit: Callable[..., Ran], args: tuple[str, ...]
) -> None:
    ran = tradekit(*args)

    assert ran.code == 0, ran.stderr
    assert not ran.imported_ccxt


LIST_MODULES = """
import json
import sys

from tradekit.cli.main import cli

for args in json.loads(sys.argv[1]):
    try:
        cli.main(args=args, prog_name="tradekit", standalone_mode=False)
    except SystemExit:
        pass
print("MODULES " + json.dumps(sorted(sys.modules)))
"""


def test_listing_commands_import_no_heavy_library_and_no_plugin(plugin_cli: Any) -> None:
    commands = [
        ["--help"],
        ["plugins", "list"],
        ["plugins", "list", "--json"],
        ["--version"],
        ["backtest", "--strategy", "sma_cross", "--exchange", "paper", "--help"],
    ]
    ran = plugin_cli.script(LIST_MODULES, json.dumps(commands))

    assert ran.returncode == 0, ran.stderr
    modules = json.loads(ran.stdout.splitlines()[-1].removeprefix("MODULES "))
    assert "tradekit.cli.plugins_cmd" in modules  # the commands did run
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & {*HEAVY_MODULES, "fake_broken", "fake_heavy"}
