"""What tradekit's ccxt-backed exchange plugins share (``tradekit-binance``, ``tradekit-hyperliquid``).

* :mod:`tradekit_ccxt.exchange`: :class:`CcxtExchange`, the Exchange base class both subclass;
* :mod:`tradekit_ccxt.errors`: ccxt's exceptions as the kernel's, with ``Retry-After``;
* :mod:`tradekit_ccxt.retry`: retries with backoff, for reads and cancels only;
* :mod:`tradekit_ccxt.budget`: the request-weight budget shared by every process on the machine;
* :mod:`tradekit_ccxt.client`: ccxt's client with that budget in front of every request;
* :mod:`tradekit_ccxt.client_ids`, :mod:`tradekit_ccxt.markets`, :mod:`tradekit_ccxt.orders`,
  :mod:`tradekit_ccxt.tracking`: client order id formats, instruments and checks, order and
  fill mapping, and the events made from polling;
* :mod:`tradekit_ccxt.testing`: the fake venue servers' shared parts (HTTP, faults, a market).

Nothing here imports ccxt at import time.
"""

from tradekit_ccxt.budget import WeightBudget
from tradekit_ccxt.exchange import CcxtExchange, CcxtSettings
from tradekit_ccxt.retry import RetryPolicy

__all__ = ["CcxtExchange", "CcxtSettings", "RetryPolicy", "WeightBudget"]
