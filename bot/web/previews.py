"""The platforms' previews for the compose page."""

from __future__ import annotations

from adapters.base import Previewer


def preview_functions() -> dict[str, Previewer]:
    """Each platform's own ``translate.preview`` for the compose page, configured or not. Imported
    only when the web is on: the Telegram package loads its SDK."""
    from adapters.console.translate import preview as console
    from adapters.matrix.translate import preview as matrix
    from adapters.slack.translate import preview as slack
    from adapters.telegram.translate import preview as telegram

    return {"console": console, "telegram": telegram, "slack": slack, "matrix": matrix}
