"""The ``telegram`` notifier for tradekit: the Bot API over HTTPS with httpx.

* :mod:`tradekit_telegram.client`: the Bot API client; the bot token never appears in a
  log line, an error or a repr.
* :mod:`tradekit_telegram.outbox`: the queue and the sender thread (one message a second per
  chat, ``retry_after`` honoured, nothing lost while Telegram is briefly down).
* :mod:`tradekit_telegram.formatting`: events and command replies as Telegram HTML.
* :mod:`tradekit_telegram.commands`: ``/status``, ``/stop``, ``/flatten``... by long polling.
* :mod:`tradekit_telegram.notifier`: the plugin.
* :mod:`tradekit_telegram.testing`: a fake Bot API server for tests.
"""

__version__ = "0.1.0"
