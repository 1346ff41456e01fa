"""Telegram: posts with inline keyboards, native reactions, replies and commands over the Bot API.

``translate.py`` is pure (update JSON ⇄ normalized types, rendering); ``adapter.py`` is the thin I/O over
python-telegram-bot; ``menu.py`` holds the command menu.
"""

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.translate import validate

__all__ = ["TelegramAdapter", "validate"]
