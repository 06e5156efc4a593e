"""What every conformance suite shares: rules that fail with their id, a clean folder, the settings check."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, NoReturn, ParamSpec, TypeVar

import pytest

from tradekit.plugin import BASE_CLASSES, Plugin, PluginSettings

P = ParamSpec("P")
R = TypeVar("R")


def violated(rule_id: str, message: str) -> NoReturn:
    """Fail the current test: an AssertionError whose message starts with ``[rule_id]``."""
    __tracebackhide__ = True
    raise AssertionError(f"[{rule_id}] {message}")


def rule(rule_id: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a test method as the check of ``rule_id``.

    Any failure inside it is reported under the rule: an assertion without
    the id gets it, and an unexpected exception from the plugin becomes an
    assertion naming the rule and the exception (the original is chained).
    Skips and pytest's own outcomes pass through untouched.
    """

    def decorate(test: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(test)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            __tracebackhide__ = True
            if args and isinstance(args[0], PluginConformance):
                # Helpers shared by several rules report under the one being checked.
                args[0].current_rule = rule_id
            try:
                return test(*args, **kwargs)
            except AssertionError as error:
                if str(error).startswith(f"[{rule_id}]"):
                    raise
                raise AssertionError(f"[{rule_id}] {error}") from error
            except Exception as error:
                raise AssertionError(
                    f"[{rule_id}] the plugin raised {type(error).__name__}: {error} "
                    "(an exception the contract does not allow here; see the chained traceback)"
                ) from error

        checked.rule_id = rule_id  # type: ignore[attr-defined]
        return checked

    return decorate


class PluginConformance:
    """Base of the conformance suites: the plugin under test, its settings, and a clean working folder.

    A subclass sets :attr:`plugin` (the class) and, if needed, :attr:`settings`
    (as a user writes them in TOML). Every rule runs in a fresh temporary
    folder (the current directory during the test, also :attr:`workdir`), and
    secrets the suite registers are forgotten after it.
    """

    #: The plugin class under test (a subclass of the kind's base class). Required.
    plugin: ClassVar[type[Plugin]]
    #: Its settings, as a user writes them in TOML.
    settings: ClassVar[Mapping[str, Any]] = {}
    #: The name the plugin is created with (the entry-point name a user types).
    plugin_name: ClassVar[str] = "under-test"
    #: The kind of plugin the suite checks; set by each suite.
    kind: ClassVar[str] = ""

    workdir: Path
    #: The id of the rule being checked, for helpers shared by several rules.
    current_rule: str = ""

    @pytest.fixture(autouse=True)
    def _tk_conformance_setup(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        from tradekit import secrets

        base = BASE_CLASSES[self.kind]
        plugin = getattr(type(self), "plugin", None)
        if not (isinstance(plugin, type) and issubclass(plugin, base)):
            pytest.fail(
                f"{type(self).__name__}: set `plugin = YourClass` to a subclass of tradekit.plugin.{base.__name__} "
                f"(it is {plugin!r})",
                pytrace=False,
            )
        self.workdir = tmp_path
        monkeypatch.chdir(tmp_path)
        yield
        secrets.forget_all()

    def plugin_settings(self, overrides: Mapping[str, Any] | None = None) -> PluginSettings:
        """:attr:`settings` (updated with ``overrides``) validated by the plugin's settings model."""
        raw = {**self.settings, **(overrides or {})}
        return self.plugin.Settings.model_validate(raw)

    def check_settings(self, rule_id: str) -> None:
        """The checks of ``<kind>.settings-validated``, shared by every suite."""
        from pydantic import ValidationError

        from tradekit.errors import ConfigError
        from tradekit.settings import validate_plugin_settings

        model = self.plugin.Settings
        if not (isinstance(model, type) and issubclass(model, PluginSettings)):
            violated(rule_id, f"{self.plugin.__name__}.Settings must derive from tradekit.plugin.PluginSettings")
        try:
            settings = model.model_validate(dict(self.settings))
        except ValidationError as error:
            violated(rule_id, f"the suite's settings {dict(self.settings)!r} are refused: {error}")
        unknown = "tk_conformance_unknown_key"
        try:
            validate_plugin_settings(
                model, {**self.settings, unknown: 1}, kind=self.kind, name=self.plugin_name, origin="conformance"
            )
        except ConfigError as error:
            if unknown not in str(error):
                violated(rule_id, f"an unknown setting was refused, but the message does not name it: {error}")
        else:
            violated(
                rule_id,
                f"{model.__name__} accepted the unknown setting {unknown!r}: a typo in a user's config would be "
                "silently ignored; derive it from tradekit.plugin.PluginSettings (extra keys forbidden)",
            )
        created = self.plugin(settings, name="tk-named")
        if created.name != "tk-named":
            violated(
                rule_id,
                f"{self.plugin.__name__}(settings, name='tk-named').name is {created.name!r}: __init__ must pass "
                "name= on to the base class (runs create plugins under the name the user typed)",
            )
        if created.settings != settings:
            violated(rule_id, f"{self.plugin.__name__} does not keep the settings it was created with")
        if created.kind != self.kind:
            violated(rule_id, f"{self.plugin.__name__}.kind is {created.kind!r}, expected {self.kind!r}")
