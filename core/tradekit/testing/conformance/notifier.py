"""``NotifierConformance``: a notifier never holds the engine up, never leaks a secret, and survives failures."""

from __future__ import annotations

import contextlib
import threading
import time
import typing
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from pydantic import SecretBytes, SecretStr

from tradekit.domain.events import EventKind, NotifierEvent, Severity
from tradekit.plugin import Notifier
from tradekit.testing.conformance.base import PluginConformance, rule, violated

if TYPE_CHECKING:
    from tradekit.hooks import HookFacade
    from tradekit.testing.servers import FakeHttpServer


def _holds_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_holds_secret(argument) for argument in typing.get_args(annotation))


class NotifierConformance(PluginConformance):
    """The rules every notifier follows.

    Set :attr:`plugin` and :attr:`settings`; optionally:

    * ``transport_settings(self, url) -> dict | None``: settings that point the notifier's transport
      (its HTTP API) at ``url``, a local server the suite runs (:class:`~tradekit.testing.servers.FakeHttpServer`)
      that answers slowly, fails, and records what it was sent. Network notifiers should define it:
      the rules are then checked against a real, slow, failing transport. Default None (the
      notifier runs as configured);
    * ``delivered(self, notifier) -> list[str] | None``: what the notifier delivered, as text, for
      ``notifier.no-secrets`` (e.g. the lines of the file it writes). Default: the bodies the local
      server received, else what was printed to stdout/stderr or logged;
    * ``notify_time_limit`` (default 0.1 s): the longest one ``tradekit_notify`` may take;
    * ``transport_delay`` (default 0.3 s): how slowly the local server answers in ``notifier.never-blocks``;
    * ``close_time_limit`` (default 10 s): the longest ``close()`` may take to flush;
    * ``make_notifier(self, overrides)``: build the notifier (default ``plugin(settings | overrides)``).

    Rules: ``notifier.never-blocks``, ``notifier.no-secrets``, ``notifier.survives-failure``,
    ``notifier.settings-validated``.
    """

    kind = "notifier"
    plugin: ClassVar[type[Notifier]]
    notify_time_limit: ClassVar[float] = 0.1
    transport_delay: ClassVar[float] = 0.3
    close_time_limit: ClassVar[float] = 10.0
    event_count: ClassVar[int] = 3

    def make_notifier(self, overrides: Mapping[str, Any] | None = None) -> Notifier:
        """A fresh notifier with :attr:`settings` updated by ``overrides``."""
        return self.plugin(self.plugin_settings(overrides), name=self.plugin_name)

    def transport_settings(self, url: str) -> Mapping[str, Any] | None:
        """Settings pointing the notifier's transport at ``url``; None when it has no network transport."""
        return None

    def delivered(self, notifier: Notifier) -> list[str] | None:
        """What ``notifier`` delivered, as text; None to let the suite capture it (see the class docstring)."""
        return None

    # -- helpers ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transport(
        self, *, delay: float = 0.0, fail_first: int = 0
    ) -> Iterator[tuple[FakeHttpServer | None, dict[str, Any]]]:
        from tradekit.testing.servers import FakeHttpServer

        with FakeHttpServer(delay=delay, fail_first=fail_first) as server:
            overrides = self.transport_settings(server.url)
            if overrides is None:
                yield None, {}
            else:
                yield server, dict(overrides)

    @staticmethod
    def _facade(notifier: Notifier) -> HookFacade:
        from tradekit.hooks import HookFacade, new_plugin_manager

        pm = new_plugin_manager()
        pm.register(notifier, name=f"notifier:{notifier.name}")
        return HookFacade(pm)

    @staticmethod
    def _kind(notifier: Notifier) -> str:
        wanted: tuple[str, ...] = getattr(notifier.settings, "events", ())
        return wanted[0] if wanted else EventKind.ERROR.value

    def _events(self, notifier: Notifier, count: int, extra: str = "") -> list[NotifierEvent]:
        kind = self._kind(notifier)
        return [
            NotifierEvent(
                kind=kind,
                message=f"tk-conformance event {number} {extra}".strip(),
                severity=Severity.WARNING,
                data={"number": number, "detail": extra, "nested": {"items": [extra, "plain"]}},
                run_id="7e57c0de" * 4,
            )
            for number in range(1, count + 1)
        ]

    def _close(self, notifier: Notifier, rule_id: str) -> None:
        errors: list[BaseException] = []

        def close() -> None:
            try:
                notifier.close()
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)

        closing = threading.Thread(target=close, name="tk-notifier-close", daemon=True)
        closing.start()
        closing.join(self.close_time_limit)
        if closing.is_alive():
            violated(rule_id, f"close() did not return within {self.close_time_limit} s; flush with a time limit")
        if errors:
            violated(rule_id, f"close() raised {type(errors[0]).__name__}: {errors[0]}")

    # -- rules --------------------------------------------------------------------------------------------

    @rule("notifier.never-blocks")
    def test_never_blocks(self) -> None:
        """tradekit_notify returns within notify_time_limit even while the transport answers slowly."""
        with self._transport(delay=self.transport_delay) as (server, overrides):
            notifier = self.make_notifier(overrides)
            facade = self._facade(notifier)
            transport = (
                f"a transport that answers after {self.transport_delay} s"
                if server is not None
                else "its transport as configured (define transport_settings() to test it against a slow one)"
            )
            for number, event in enumerate(self._events(notifier, self.event_count), start=1):
                started = time.monotonic()
                facade.notify(event)
                took = time.monotonic() - started
                if took > self.notify_time_limit:
                    violated(
                        "notifier.never-blocks",
                        f"tradekit_notify took {took:.2f} s for event {number} of {self.event_count} "
                        f"(limit {self.notify_time_limit} s) with {transport}: the engine waits that long on "
                        "every order. Queue the event and deliver it from a worker thread",
                    )
            self._close(notifier, "notifier.never-blocks")

    @rule("notifier.no-secrets")
    def test_no_secrets(self, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        """With secrets in its settings and in the events, nothing the notifier delivers contains a secret."""
        from tradekit import secrets

        token = uuid.uuid4().hex[:16]
        own = {
            name: f"tkSecret{name.replace('_', '')}{token}"
            for name, field in self.plugin.Settings.model_fields.items()
            if _holds_secret(field.annotation)
        }
        run_secret = f"tkRunSecret{token}"
        with self._transport() as (server, overrides):
            notifier = self.make_notifier({**overrides, **own})
            secrets.register_model_secrets(notifier.settings)
            secrets.register_secret(run_secret)
            every = [*own.values(), run_secret]
            marker = f"tkMarker{token}"
            events = self._events(notifier, self.event_count, f"{marker} " + " ".join(every))
            facade = self._facade(notifier)
            capfd.readouterr()
            for event in events:
                facade.notify(event)
            self._close(notifier, "notifier.no-secrets")
            texts = self.delivered(notifier)
            where = "delivered()"
            if texts is None and server is not None:
                texts, where = server.bodies, "the requests its transport sent"
            if texts is None:
                captured = capfd.readouterr()
                texts = [captured.out, captured.err, *(record.getMessage() for record in caplog.records)]
                where = "its output (stdout, stderr and log)"
        if not any(marker in text for text in texts):
            pytest.skip(
                f"none of the events sent could be seen in {where}, so no leak can be looked for: define "
                "delivered(self, notifier) (or transport_settings()) so the suite sees what it sends"
            )
        names = {value: f"its secret setting {name!r}" for name, value in own.items()}
        names[run_secret] = "a secret of the run (an exchange key, say)"
        for text in texts:
            for value, name in names.items():
                if value in text:
                    shown = text.replace(value, "***")
                    violated(
                        "notifier.no-secrets",
                        f"{where} contains the value of {name} (masked here): {shown[:300]!r}. Never put a "
                        "setting's secret in a message; events arrive already scrubbed",
                    )

    @rule("notifier.survives-failure")
    def test_survives_failure(self) -> None:
        """Failing deliveries never escape the hook, and the events after them are still delivered."""
        with self._transport(fail_first=2) as (server, overrides):
            notifier = self.make_notifier(overrides)
            facade = self._facade(notifier)
            if server is None:
                self._survives_failing_send(notifier, facade)
                return
            for event in self._events(notifier, 4):
                facade.notify(event)
            self._close(notifier, "notifier.survives-failure")
            if server.successes == 0:
                violated(
                    "notifier.survives-failure",
                    f"its transport failed the first 2 requests (HTTP 500), and nothing was delivered after them "
                    f"({len(server.requests)} request(s) in all): a failure must not stop later events",
                )

    def _survives_failing_send(self, notifier: Notifier, facade: HookFacade) -> None:
        original = notifier.send
        calls: list[NotifierEvent] = []

        def failing(event: NotifierEvent) -> None:
            calls.append(event)
            if len(calls) == 1:
                raise RuntimeError("the transport failed (provoked by the conformance suite)")
            original(event)

        notifier.send = failing  # type: ignore[method-assign]
        first, second = self._events(notifier, 2)
        facade.notify(first)
        facade.notify(second)
        if len(calls) < 2:
            violated(
                "notifier.survives-failure",
                "after one send() raised, the next event never reached send(): the notifier stopped listening",
            )
        self._close(notifier, "notifier.survives-failure")

    @rule("notifier.settings-validated")
    def test_settings_validated(self) -> None:
        """Unknown settings are refused, naming the key; the plugin keeps its name and settings."""
        self.check_settings("notifier.settings-validated")
