"""tradekit's pytest plugin: fixtures for plugin authors, all named ``tk_``.

Registered through the ``pytest11`` entry point ``tradekit``, so any pytest
session in an environment where tradekit is installed has these fixtures
without a conftest. It adds fixtures only (no hooks, options or autouse
fixtures), so tests that do not ask for them run exactly as before, and it
imports nothing heavy until a fixture is used.

* ``tk_plugin_manager``: a fresh pluggy manager with tradekit's hook specs and nothing registered;
* ``tk_register(plugin, name=None, *, settings=None)``: register a plugin for this test only; a
  plugin class (or instance) is also published under its entry-point name, so
  ``Registry().load_class(kind, name)`` and the ``tradekit`` command find it;
* ``tk_fake_exchange``: a :class:`~tradekit.testing.FakeExchange` with default settings;
* ``tk_cli(*args, input=None, env=None, cwd=None)``: run the ``tradekit`` command in-process;
* ``tk_clean_environment``: no ``TRADEKIT_*`` variable of the shell during the test, no secret after it
  (request it from an autouse fixture of a conftest to apply it to a whole folder);
* ``tk_shared_data``, ``tk_data_file(name)``: the folder of real bar files and one file in it
  (see :mod:`tradekit.testing.real_data`); the test is skipped, saying why, where they are absent.

The conformance suites are in :mod:`tradekit.testing.conformance`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pluggy

    from tradekit.testing.cli import TradekitCli
    from tradekit.testing.fake_exchange import FakeExchange

Register = Callable[..., Any]


@pytest.fixture
def tk_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows tradekit's hook specs and has nothing registered."""
    from tradekit.hooks import new_plugin_manager

    return new_plugin_manager()


@pytest.fixture
def tk_register(
    tk_plugin_manager: pluggy.PluginManager, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Register]:
    """``tk_register(plugin, name=None, *, settings=None)``: a plugin for this test only.

    ``plugin`` may be a plugin class (it is created with ``settings``, a dict
    as a user writes it in TOML), a plugin instance, or any object with
    ``@hookimpl`` methods. It is registered on ``tk_plugin_manager``, and a
    plugin class (an instance's class) is published under ``name`` (default:
    the instance's name, or the class name in lower case) in its kind's
    entry-point group, through a fake installed distribution on ``sys.path``:
    the registry lists and loads it by that name, and ``tk_cli`` can select it
    (``--strategy NAME``). Returns what was registered (the instance for a
    class). Everything is unregistered and unpublished after the test.
    """
    from tradekit.plugin import Plugin
    from tradekit.testing.registration import PluginPublisher

    site = tmp_path_factory.mktemp("tk-site")
    monkeypatch.syspath_prepend(str(site))
    publisher = PluginPublisher(site)
    registered: list[object] = []

    def register(plugin: Any, name: str | None = None, *, settings: Mapping[str, Any] | None = None) -> Any:
        if isinstance(plugin, type) and issubclass(plugin, Plugin):
            entry_name = name or plugin.__name__.lower()
            instance: Any = plugin(plugin.Settings.model_validate(dict(settings or {})), name=entry_name)
        elif isinstance(plugin, Plugin):
            if settings is not None:
                raise TypeError("settings= is for plugin classes; this plugin instance already has its settings")
            instance, entry_name = plugin, name or plugin.name
        else:
            if settings is not None:
                raise TypeError(f"settings= is for plugin classes, not {type(plugin).__name__}")
            tk_plugin_manager.register(plugin, name=name)
            registered.append(plugin)
            return plugin
        publisher.publish(type(instance), entry_name)
        # Named as a run names them, so messages and hook order match a real run.
        plugin_name = entry_name if instance.kind == "risk" else f"{instance.kind}:{entry_name}"
        tk_plugin_manager.register(instance, name=plugin_name)
        registered.append(instance)
        return instance

    yield register
    for plugin in registered:
        if tk_plugin_manager.is_registered(plugin):
            tk_plugin_manager.unregister(plugin)
    publisher.close()


@pytest.fixture
def tk_fake_exchange() -> FakeExchange:
    """A :class:`~tradekit.testing.FakeExchange`: BTC/USDT at 100, tick 0.01, lot 0.001, 10000 USDT."""
    from tradekit.testing.fake_exchange import FakeExchange

    return FakeExchange()


@pytest.fixture
def tk_cli(tmp_path: Path) -> TradekitCli:
    """``tk_cli(*args, input=None, env=None, cwd=None) -> CliResult``: the ``tradekit`` command, in-process.

    Runs in a fresh folder (``tk_cli.workdir``) unless ``cwd`` is given; the
    result has ``exit_code``, ``stdout``, ``stderr``, ``output`` and ``exception``.
    """
    from tradekit.testing.cli import TradekitCli

    return TradekitCli(tmp_path / "tk-cli")


@pytest.fixture
def tk_clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``TRADEKIT_*`` variable of the developer's shell leaks into the test; no secret outlives it.

    Not autouse: a conftest applies it to its folder with a one-line autouse
    fixture that requests it.
    """
    from tradekit import secrets

    for key in list(os.environ):
        if key.startswith("TRADEKIT_"):
            monkeypatch.delenv(key)
    yield
    secrets.forget_all()


@pytest.fixture
def tk_shared_data() -> Path:
    """The folder of real bar files (``shared/data``, see :mod:`tradekit.testing.real_data`); skips where absent."""
    from tradekit.testing.real_data import shared_data_folder

    return shared_data_folder()


@pytest.fixture
def tk_data_file() -> Callable[[str], Path]:
    """``tk_data_file(name)``: the path of one real bar file; skips the test, naming the file, where it is absent."""
    from tradekit.testing.real_data import shared_data_file

    return shared_data_file
