"""Order tags: tradekit's client order ids written into MetaTrader 5's order comment, and read back.

MetaTrader 5 has no client order id. An order carries a magic number (whose
order it is: tradekit's, by the ``magic`` setting) and a comment of at most
31 characters, which the terminal keeps on the order and in the history.
tradekit writes the client order id there, in a form that fits:

* an engine id (32 lowercase hex digits) becomes ``tk`` and the same 128-bit
  number in 22 base-62 digits (24 characters), and reads back exactly;
* another id that fits (at most 29 of ``A-Z a-z 0-9 _ . : -``) is kept as it
  is after ``tn``;
* anything else becomes ``tx`` and a fixed 128-bit hash of it: the same id
  always gives the same tag, so a restarted run finds its orders by id, but
  an order listed from the terminal cannot be named back without it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

#: The longest comment MetaTrader 5 takes; a longer one fails the whole request.
MAX_COMMENT = 31
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WIDTH = 22  # 62**22 > 2**128
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_PLAIN = re.compile(r"^[A-Za-z0-9_.:-]{1,29}$")


def _base62(number: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_DIGITS[rest])
    return "".join(reversed(digits)).rjust(_WIDTH, "0")


def _number(text: str) -> int | None:
    value = 0
    for char in text:
        index = _DIGITS.find(char)
        if index < 0:
            return None
        value = value * 62 + index
    return value


@dataclass
class OrderTags:
    """Turns client order ids into order comments and back; remembers the hashed ones this process made."""

    _known: dict[str, str] = field(default_factory=dict, repr=False)

    def tag(self, client_order_id: str) -> str:
        """The comment written on the orders of ``client_order_id``."""
        if _HEX32.match(client_order_id):
            made = "tk" + _base62(int(client_order_id, 16))
        elif _PLAIN.match(client_order_id):
            made = "tn" + client_order_id
        else:
            digest = hashlib.blake2b(client_order_id.encode(), digest_size=16).digest()
            made = "tx" + _base62(int.from_bytes(digest, "big"))
        self._known[made] = client_order_id
        return made

    def client_order_id(self, comment: str | None) -> str | None:
        """The client order id a comment was made from, or None when the comment is not a tradekit tag."""
        if not comment:
            return None
        known = self._known.get(comment)
        if known is not None:
            return known
        body = comment[2:]
        if comment.startswith("tk") and len(body) == _WIDTH:
            number = _number(body)
            if number is not None and number < 2**128:
                return f"{number:032x}"
        if comment.startswith("tn") and _PLAIN.match(body):
            return body
        return None
