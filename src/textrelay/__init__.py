"""textrelay: a self-hosted, Twilio-compatible Programmable Messaging server."""

from __future__ import annotations

from textrelay.client import client

__version__ = "0.1.0"
__all__ = ["__version__", "client"]
