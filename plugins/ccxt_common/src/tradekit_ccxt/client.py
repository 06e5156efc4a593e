"""The ccxt client tradekit drives: ccxt's own venue class, with tradekit's budget in front of every request.

:func:`budgeted_client_class` derives, from a ccxt venue class, a class that
changes two things and nothing of the venue's code:

* ``fetch2`` (through which every REST call goes) first spends the request's
  weight from the shared :class:`~tradekit_ccxt.budget.WeightBudget`, and
  ccxt's own per-process throttle is off;
* a 2xx reply whose body is broken JSON raises ``ccxt.BadResponse``
  instead of reaching the venue's parser as text (ccxt would otherwise hand
  the text on, and an order reply could be misread).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: ``weigh(api, method, path, params, config)``: spends the request's weight, waiting if needed.
Weigher = Callable[[Any, str, str, dict[str, Any], dict[str, Any]], None]

_CLASSES: dict[type, type] = {}


def budgeted_client_class(base: type) -> type:
    """A subclass of the ccxt class ``base`` whose requests go through ``tradekit_weigh`` (cached per base)."""
    made = _CLASSES.get(base)
    if made is not None:
        return made

    class Budgeted(base):  # type: ignore[misc]
        tradekit_weigh: Weigher | None = None
        tradekit_status: int | None = None
        tradekit_requests: int = 0

        def fetch2(
            self, path: Any, api: Any = "public", method: str = "GET", params: Any = None, config: Any = None
        ) -> Any:
            params = {} if params is None else params
            config = {} if config is None else config
            if self.tradekit_weigh is not None:
                self.tradekit_weigh(api, method, path, params, config)
            self.tradekit_requests += 1
            self.tradekit_status = None  # set again by on_rest_response when a reply comes
            return super().fetch2(path, api, method, params, config)

        def on_rest_response(
            self,
            code: Any,
            reason: Any,
            url: Any,
            method: Any,
            response_headers: Any,
            response_body: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            self.tradekit_status = int(code) if code is not None else None
            return super().on_rest_response(
                code, reason, url, method, response_headers, response_body, request_headers, request_body
            )

        def parse_json(self, http_response: Any) -> Any:
            import ccxt

            text = http_response.strip() if isinstance(http_response, str) else http_response
            status = self.tradekit_status or 0
            if isinstance(text, str) and text[:1] in ("{", "[") and 200 <= status < 300:
                try:
                    return json.loads(text)
                except ValueError:
                    raise ccxt.BadResponse(
                        f"{self.id} answered {status} with a body that is not valid JSON: {text[:120]!r}"
                    ) from None
            return super().parse_json(http_response)

    Budgeted.__name__ = f"Budgeted_{base.__name__}"
    Budgeted.__qualname__ = Budgeted.__name__
    _CLASSES[base] = Budgeted
    return Budgeted
