"""Messages Telegram accepts whatever text they carry; commands from allowed chats only, answered from the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from tradekit_telegram.formatting import MAX_LENGTH, format_event
from tradekit_telegram.notifier import TelegramNotifier, TelegramSettings
from tradekit_telegram.testing import FakeBotApi, telegram_html_text

from tradekit import secrets
from tradekit.control import ControlAction, ControlRequest, RunControl
from tradekit.domain.bars import BarSeries
from tradekit.domain.events import EventKind, NotifierEvent, Severity
from tradekit.domain.instruments import Instrument
from tradekit.domain.orders import OrderIntent, Side
from tradekit.domain.run import RunInfo, RunMode
from tradekit.engine.brokers import SimulatedBroker
from tradekit.engine.context import EngineContext
from tradekit.engine.core import Engine
from tradekit.hooks import HookFacade, new_plugin_manager
from tradekit.hookspecs import hookimpl
from tradekit.plugin import Strategy
from tradekit.sim import FeeSchedule, SimulatedVenue

D = Decimal
TOKEN = "424242:COMMANDS-test-token"
OWNER = 42
STRANGER = 666
NASTY = "<script>alert('x')</script> & 1 < 2 > 0 &amp; </b>"


@pytest.mark.parametrize(
    "kind",
    [*(kind.value for kind in EventKind), "circuit_breaker_tripped", "circuit_breaker_reset", "a_plugin_s_own_kind"],
)
def test_every_event_is_html_telegram_accepts_and_shows_the_text_as_written(kind: str) -> None:
    event = NotifierEvent(
        kind=kind,
        message=f"symbol {NASTY}",
        severity=Severity.WARNING,
        data={
            "reason": NASTY,
            "symbol": NASTY,
            "price": "61234.5",
            "value_pct": 10.27,
            "until": "2024-08-05T02:10:00+00:00",
        },
        run_id="0123456789abcdef" * 2,
    )
    shown = telegram_html_text(format_event(event))  # raises if Telegram would refuse it
    assert f"symbol {NASTY}" in shown
    assert "run 0123456789ab" in shown


def test_numbers_are_shown_for_people() -> None:
    event = NotifierEvent(
        kind="circuit_breaker_tripped",
        message="circuit breaker tripped",
        data={"trigger": "drawdown", "value_pct": 10.2734, "equity": 73627.96, "until": "2024-08-05T12:02:00+00:00"},
    )
    shown = telegram_html_text(format_event(event))
    assert "trigger: drawdown" in shown and "value: 10.27%" in shown
    assert "equity: 73,627.96" in shown and "until: 2024-08-05 12:02 UTC" in shown


def test_a_huge_message_is_cut_to_what_telegram_takes() -> None:
    event = NotifierEvent(kind="error", message="x" * 10, data={}, run_id=None)
    long_event = event.model_copy(update={"message": "\n".join(["line <&>"] * 2_000)})
    text = format_event(long_event)
    assert len(telegram_html_text(text)) <= MAX_LENGTH


# --- commands ------------------------------------------------------------------------------------------


class Idle(Strategy):
    def on_bar(self, ctx: Any) -> None:
        """Never trades."""


class Heard:
    def __init__(self) -> None:
        self.requests: list[ControlRequest] = []

    @hookimpl
    def tradekit_control_requested(self, request: ControlRequest) -> None:
        self.requests.append(request)


@pytest.fixture
def running() -> Iterator[tuple[FakeBotApi, TelegramNotifier, RunControl, Heard, Callable[..., None]]]:
    """A fake bot, the notifier answering commands for a dry run, and ``pump(until)`` (the loop's turn)."""
    instrument = Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
    venue = SimulatedVenue({"BTC/USDT": instrument}, {"USDT": D(10_000)}, FeeSchedule(maker=D(0), taker=D(0)))
    heard = Heard()
    pm = new_plugin_manager()
    pm.register(heard, name="heard")
    run = RunInfo(
        run_id="feed" * 8, mode=RunMode.DRY_RUN, exchange="paper", strategies=("idle",), symbols=("BTC/USDT",)
    )
    engine = Engine(
        run=run,
        broker=SimulatedBroker(venue),
        hooks=HookFacade(pm),
        instruments={"BTC/USDT": instrument},
        quote_currency="USDT",
        cash=D(10_000),
    )
    engine.now = datetime(2024, 8, 5, 1, 10, tzinfo=UTC)
    engine.set_close("BTC/USDT", 50_000.0)
    strategy = Idle(name="idle")
    moment = int(engine.now.timestamp()) * 1_000_000_000
    one_bar = BarSeries(
        symbol="BTC/USDT",
        timeframe="1m",
        timestamps=np.array([moment]),
        open=np.array([50_000.0]),
        high=np.array([50_000.0]),
        low=np.array([50_000.0]),
        close=np.array([50_000.0]),
        volume=np.array([1.0]),
    )
    engine.contexts[id(strategy)] = EngineContext(engine, strategy, {"BTC/USDT": one_bar})
    engine.submit_intent(strategy, OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=D("0.1")), D(50_000))
    control = RunControl(engine, strategy, accepts_requests=True)
    with FakeBotApi(token=TOKEN, chats={OWNER, STRANGER}) as bot:
        notifier = TelegramNotifier(
            TelegramSettings(
                bot_token=TOKEN,
                chat_ids=(OWNER,),
                base_url=bot.url,
                poll_timeout_seconds=1,
                min_interval_seconds=0,
                retry_seconds=0.05,
                confirm_seconds=2,
            )
        )
        notifier.tradekit_run_started(run, control)

        def pump(until: Callable[[], bool], timeout: float = 10.0) -> None:
            deadline = time.monotonic() + timeout
            while not until():
                assert time.monotonic() < deadline, "the expected answer never came"
                control.service()
                time.sleep(0.01)

        try:
            yield bot, notifier, control, heard, pump
        finally:
            notifier.close()
            secrets.forget_all()


def replies(bot: FakeBotApi, chat: int) -> list[str]:
    return [m.text for m in bot.messages_to(chat)]


def test_stop_from_a_chat_that_is_not_configured_does_nothing(running: Any) -> None:
    bot, notifier, control, heard, pump = running
    bot.send_command(STRANGER, "/stop")
    bot.send_command(OWNER, "/help")  # answered after the stranger's: proof the stranger's was read
    pump(lambda: len(replies(bot, OWNER)) >= 1)

    assert notifier.commands is not None and notifier.commands.refused == [(STRANGER, "/stop")]
    assert replies(bot, STRANGER) == [], "a stranger gets no answer at all"
    for _ in range(5):
        assert control.service() is False
    assert heard.requests == [] and control.stopping is None


def test_status_balance_and_positions_answer_from_the_running_engine(running: Any) -> None:
    bot, _, _, _, pump = running
    for command in ("/status", "/balance", "/positions@tradekit_test_bot"):
        bot.send_command(OWNER, command)
    pump(lambda: len(replies(bot, OWNER)) >= 3)
    status, balance, positions = replies(bot, OWNER)
    assert "dry_run feedfeedfeed" in status and "equity: 10,000.00 USDT (+0.00%)" in status
    assert "positions: 1, open orders: 0" in status and "bar: 2024-08-05 01:10 UTC" in status
    assert "USDT: 5,000.00" in balance
    assert "BTC/USDT: 0.1 at 50,000.00, unrealized 0.00" in positions


def test_stop_from_the_owner_stops_the_run(running: Any) -> None:
    bot, _, control, heard, pump = running
    bot.send_command(OWNER, "/stop going to bed")
    pump(lambda: control.stopping is not None)
    assert [(r.action, r.source, r.reason) for r in heard.requests] == [
        (ControlAction.STOP, f"telegram chat {OWNER}", "going to bed")
    ]
    pump(lambda: any("Stop requested" in t for t in replies(bot, OWNER)))


def test_flatten_waits_for_a_confirmation_and_a_late_one_does_nothing(running: Any) -> None:
    bot, _, control, heard, pump = running
    bot.send_command(OWNER, "/confirm")
    bot.send_command(OWNER, "/flatten")
    pump(lambda: len(replies(bot, OWNER)) >= 2)
    assert replies(bot, OWNER)[0].startswith("Nothing to confirm")
    assert "Send /confirm within 2 s" in replies(bot, OWNER)[1]
    assert heard.requests == []

    bot.send_command(OWNER, "/confirm")
    pump(lambda: control.stopping is not None)
    assert control.stopping.action is ControlAction.FLATTEN
    assert control.account().positions == (), "the position was closed"


def test_resume_and_unknown_commands(running: Any) -> None:
    bot, _, _, heard, pump = running
    bot.send_command(OWNER, "/resume")
    bot.send_command(OWNER, "/moon <now>")
    pump(lambda: len(replies(bot, OWNER)) >= 2 and heard.requests)
    assert heard.requests[0].action is ControlAction.RESUME
    assert "Unknown command /moon <now>" in replies(bot, OWNER)[1] and "/status" in replies(bot, OWNER)[1]


def test_polling_goes_on_after_telegram_fails(running: Any) -> None:
    bot, _, _, _, pump = running

    def failures() -> int:
        return sum(1 for r in bot.requests if r.method == "getUpdates" and r.status == 502)

    bot.fail_next(2, status=502, method="getUpdates")
    pump(lambda: failures() == 2)  # both polls failed before the command is even sent...
    bot.send_command(OWNER, "/help")
    pump(lambda: len(replies(bot, OWNER)) >= 1)  # ...and polling went on to answer it
    assert failures() == 2 and replies(bot, OWNER)
