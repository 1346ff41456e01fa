"""Data sources and scheduler helpers, pure or on an in-process HTTP transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from scheduler.jobstore import sync_url
from scheduler.leader import lock_key
from scheduler.service import latest_firing
from scheduler.sources import CsvSource, HttpJsonSource, SourceError, SourceFetcher, StaticSource, csv_value, extract

DOC = {"data": {"count": 7, "teams": [{"name": "Noord", "size": 4}]}, "items": []}


@pytest.mark.parametrize(
    ("path", "value"),
    [(None, DOC), ("data.count", 7), ("data.teams.0.name", "Noord"), ("data.teams.-1.size", 4)],
)
def test_json_paths(path: str | None, value: object) -> None:
    assert extract(DOC, path) == value


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("data.total", "data has no key 'total' (keys: count, teams)"),
        ("data.teams.first", "data.teams is a list, so 'first' should be a number"),
        ("items.0", "items has 0 items, so there is no item 0"),
        ("data.count.x", "data.count is a int, it has no 'x'"),
    ],
)
def test_json_path_errors_say_what_is_there(path: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        extract(DOC, path)


CSV = "team;uren;status\nNoord;8;aanwezig\nZuid;4,5;ziek\nNoord;6;aanwezig\nOost;;aanwezig\n"


def test_csv_count_sum_first() -> None:
    base = CsvSource(file="x.csv", delimiter=";")
    assert csv_value(CSV, base) == 4
    assert csv_value(CSV, CsvSource(file="x", delimiter=";", where={"team": "Noord"})) == 2
    assert (
        csv_value(CSV, CsvSource(file="x", delimiter=";", op="sum", column="uren", where={"status": "aanwezig"})) == 14
    )
    assert (
        csv_value(CSV, CsvSource(file="x", delimiter=";", op="first", column="team", where={"status": "ziek"}))
        == "Zuid"
    )
    with pytest.raises(SourceError, match="'4,5' is not a number"):
        csv_value(CSV, CsvSource(file="x", delimiter=";", op="sum", column="uren"))
    with pytest.raises(SourceError, match="no CSV row matches status = 'weg'"):
        csv_value(CSV, CsvSource(file="x", delimiter=";", op="first", column="team", where={"status": "weg"}))


async def test_transient_errors_are_retried_and_secrets_stay_out_of_messages() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("X-Key", ""))
        if len(calls) < 3:
            return httpx.Response(502)
        return httpx.Response(200, json={"n": 3})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        fetcher = SourceFetcher(client, env={"KEY": "k1"}, retry_wait=0.001)
        source = HttpJsonSource("http://hr.test/x?token=abc", "n", {"X-Key": "env:KEY"}, retries=2)
        assert await fetcher.fetch(source) == 3
        assert calls == ["k1", "k1", "k1"]
        calls.clear()
        values, failures = await fetcher.gather(
            {"a": HttpJsonSource("http://hr.test/x?token=abc", "n", retries=1), "b": StaticSource(5)}
        )
        assert values == {"b": 5}
        assert failures == {"a": "http://hr.test/x answered HTTP 502 (2 attempts)"}


async def test_client_errors_and_bad_json_are_not_retried() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404) if request.url.path == "/gone" else httpx.Response(200, text="<html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        fetcher = SourceFetcher(client, env={}, retry_wait=0.001)
        _, failures = await fetcher.gather(
            {"gone": HttpJsonSource("http://hr.test/gone"), "html": HttpJsonSource("http://hr.test/page")}
        )
    assert failures == {
        "gone": "http://hr.test/gone answered HTTP 404",
        "html": "http://hr.test/page did not answer JSON",
    }
    assert calls == 2


async def test_a_missing_csv_file_is_named(tmp_path: object) -> None:
    async with httpx.AsyncClient() as client:
        _, failures = await SourceFetcher(client, env={}).gather({"x": CsvSource(file="/nonexistent/rooster.csv")})
    assert failures == {"x": "CSV file /nonexistent/rooster.csv cannot be read: No such file or directory"}


def test_sync_urls_for_the_job_store() -> None:
    assert sync_url("sqlite:///./prikbord.db").render_as_string() == "sqlite:///./prikbord.db"
    assert sync_url("sqlite+aiosqlite:////tmp/p.db").render_as_string() == "sqlite:////tmp/p.db"
    pg = sync_url("postgresql+asyncpg://u:pw@db:5432/prikbord?ssl=require")
    assert pg.render_as_string(hide_password=False) == "postgresql+psycopg://u:pw@db:5432/prikbord?sslmode=require"
    assert sync_url("postgresql://u@db/p").drivername == "postgresql+psycopg"


def test_lock_keys_are_per_database_and_schema() -> None:
    key = lock_key("prikbord-scheduler", "test", "public")
    assert key == lock_key("prikbord-scheduler", "test", "public")
    assert key != lock_key("prikbord-scheduler", "test", "t_123")
    assert -(2**63) <= key < 2**63


def test_latest_firing_within_a_window() -> None:
    now = datetime(2026, 11, 30, 7, 40, tzinfo=UTC)  # 08:40 in Amsterdam
    assert latest_firing("30 8 * * *", "Europe/Amsterdam", now, timedelta(minutes=15)) == datetime(
        2026, 11, 30, 7, 30, tzinfo=UTC
    )
    assert latest_firing("30 8 * * *", "Europe/Amsterdam", now, timedelta(minutes=5)) is None
    assert latest_firing("*/5 * * * *", "UTC", now, timedelta(minutes=12)) == now
