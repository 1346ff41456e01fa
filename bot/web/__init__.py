"""The web side of prikbord: admin API, dashboard, webhooks, click redirect, health and metrics.

The names below load on first use (PEP 562): importing ``bot.web.deps`` or ``bot.web.metrics`` must
not pull in FastAPI and uvicorn, so CLI commands that never serve HTTP start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.web.app import create_web_app
    from bot.web.metrics import Metrics
    from bot.web.server import WebServer

__all__ = ["Metrics", "WebServer", "create_web_app"]
_HOMES = {"create_web_app": "bot.web.app", "Metrics": "bot.web.metrics", "WebServer": "bot.web.server"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bot.web' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
