"""The log filter of ``prikbord run``: a pool connection whose close a stop cancelled is one line, not
asyncpg's traceback; every other record is left as it is."""

from __future__ import annotations

import asyncio
import logging

from bot.runtime import quiet_cancelled_pool_close


def _record(name: str, msg: str, error: BaseException | None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, ("<conn>",), exc_info)


def test_a_close_cancelled_while_stopping_is_one_line() -> None:
    record = _record(
        "sqlalchemy.pool.impl.AsyncAdaptedQueuePool", "Exception closing connection %r", asyncio.CancelledError()
    )
    assert quiet_cancelled_pool_close(record)
    assert record.exc_info is None and record.levelno == logging.WARNING
    assert "dropped while stopping" in record.getMessage()
    formatted = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "Traceback" not in formatted and "\n" not in formatted


def test_any_other_error_keeps_its_traceback() -> None:
    other = _record("sqlalchemy.pool.impl.AsyncAdaptedQueuePool", "Exception closing connection %r", OSError("reset"))
    bug = _record("prikbord.dispatch", "Exception closing connection %r", asyncio.CancelledError())
    for record in (other, bug):
        assert quiet_cancelled_pool_close(record)
        assert record.exc_info is not None and record.levelno == logging.ERROR
