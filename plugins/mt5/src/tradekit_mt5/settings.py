"""Settings of the ``mt5`` exchange (``[plugins.exchange.mt5]``), and why the bridge stays on this machine.

The mt5linux bridge is an RPyC "classic" server: whoever reaches its port
runs any Python code in the terminal's Wine prefix and trades the account
logged in there. It has no authentication, so tradekit talks to it on the
loopback interface only and refuses any other address unless the user sets
``allow_remote_bridge`` (for a port they protect themselves: an SSH tunnel,
a firewall).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from tradekit.plugin import PluginSettings

#: The port mt5linux's server listens on unless told otherwise (RPyC's classic port).
DEFAULT_BRIDGE_PORT = 18812
#: Written on every order tradekit sends ("trk" in ASCII): MT5's way of telling whose an order is.
DEFAULT_MAGIC = 0x74726B


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: where it points is not known without asking DNS


class MT5Settings(PluginSettings):
    """Settings of the ``mt5`` exchange."""

    symbols: tuple[str, ...] = Field(
        default=("EURUSD",), description="Symbols to trade when none is named, as the terminal names them."
    )
    login: int | None = Field(
        default=None, gt=0, description="Account number; unset: the account the terminal is logged in to."
    )
    password: SecretStr | None = Field(
        default=None, description="The account's password (unset: the one the terminal has saved)."
    )
    server: str | None = Field(default=None, description="The broker's trade server, as the terminal lists it.")
    terminal_path: str | None = Field(
        default=None,
        description="Path of terminal64.exe when several terminals are installed (a Windows path, also under Wine).",
    )
    bridge: Literal["auto", "metatrader5", "mt5linux"] = Field(
        default="auto",
        description="How to reach the terminal: the MetaTrader5 package (Windows), the mt5linux bridge (Linux, "
        "macOS), or auto: the package when it is installed, else the bridge.",
    )
    bridge_host: str = Field(
        default="127.0.0.1", description="Where the mt5linux bridge listens; it is unauthenticated: keep it local."
    )
    bridge_port: int = Field(default=DEFAULT_BRIDGE_PORT, ge=1, le=65535, description="The bridge's port.")
    allow_remote_bridge: bool = Field(
        default=False,
        description="Accept a bridge_host that is not this machine. Anyone reaching an mt5linux port can trade "
        "the account: only for a port you protect yourself (an SSH tunnel, a firewall).",
    )
    magic: int = Field(
        default=DEFAULT_MAGIC,
        ge=1,
        lt=2**63,
        description="Magic number written on tradekit's orders; give each tradekit process on one account its own.",
    )
    deviation: int = Field(
        default=20,
        ge=0,
        description="Points a market order may fill away from the price it was sent at; a requote or price change "
        "within it is sent again at the new price.",
    )
    requote_retries: int = Field(
        default=3, ge=0, le=10, description="Times a requoted market order is sent again at the new price."
    )
    check_orders: bool = Field(
        default=True,
        description="Ask the terminal's order_check (margin, volume, filling, prices) before each order_send.",
    )
    timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds to wait for the terminal or the bridge.")
    retries: int = Field(
        default=3, ge=1, le=20, description="Tries of a read (never of an order) when the terminal drops."
    )
    refresh_interval: float = Field(
        default=1.0, ge=0, description="Fewest seconds between two looks at the terminal for order events."
    )
    history_days: int = Field(
        default=30, ge=1, le=3650, description="How far back an order is looked for by its tag in the history."
    )

    @field_validator("bridge_host")
    @classmethod
    def _host_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("bridge_host must not be empty; the bridge listens on 127.0.0.1 by default")
        return value.strip()

    @model_validator(mode="after")
    def _safe_and_consistent(self) -> MT5Settings:
        if not self.allow_remote_bridge and not is_loopback(self.bridge_host):
            raise ValueError(
                f"bridge_host {self.bridge_host!r} is not this machine; the mt5linux bridge has no "
                "authentication (whoever reaches its port runs code in the terminal's Wine prefix and trades the "
                "account), so tradekit talks to it on 127.0.0.1 only. Run the bridge on this machine, or set "
                "allow_remote_bridge = true if you protect the port yourself (an SSH tunnel, a firewall)"
            )
        if self.login is None and (self.password is not None or self.server is not None):
            raise ValueError("password and server need a login (the account number) to log in with")
        return self
