"""The web side of prikbord: admin API, dashboard, webhooks, click redirect, health and metrics."""

from bot.web.app import create_web_app
from bot.web.metrics import Metrics
from bot.web.server import WebServer

__all__ = ["Metrics", "WebServer", "create_web_app"]
