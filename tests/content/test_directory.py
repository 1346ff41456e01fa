"""The employee directory on SQLite and PostgreSQL: CSV and JSON lines, the new columns, an
idempotent upsert with its report, an unknown column refused, a bad row failing alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import PLATFORMS
from content.db import Store
from content.directory import (
    COLUMNS,
    DirectoryResult,
    MalformedDirectory,
    SlackLookup,
    apply_directory,
    parse_directory,
)
from content.models import Employee, Identity

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CSV = (
    "email,name,department,location,language,telegram,slack,matrix\n"
    "Anna@Example.org,Anna de Vries,HR,Utrecht,nl,1001,U01ANNA,@anna:example.org\n"
    "bram@example.org,Bram Bakker,IT,Gent,en,1002,,\n"
)


async def _import(store: Store, text: str, lookup: SlackLookup | None = None) -> DirectoryResult:
    rows, failed = parse_directory(text, PLATFORMS)
    async with store.transaction() as session:
        result = await apply_directory(session, rows, NOW, lookup)
    result.failed[:0] = failed
    return result


async def _people(store: Store) -> dict[str, tuple[Employee, list[tuple[str, str, str | None]]]]:
    async with store.sessions() as session:
        employees = list((await session.execute(select(Employee))).scalars())
        identities = list((await session.execute(select(Identity).order_by(Identity.platform))).scalars())
    return {
        (e.email or e.name): (
            e,
            [(i.platform, i.platform_user_id, i.linked_how) for i in identities if i.employee_id == e.id],
        )
        for e in employees
    }


async def test_csv_with_every_column_creates_then_changes_nothing(store: Store) -> None:
    first = await _import(store, CSV)
    assert (first.created, first.updated, first.unchanged, first.identities_linked) == (2, 0, 0, 4)
    assert first.failed == []
    people = await _people(store)
    anna, accounts = people["anna@example.org"]
    assert (anna.name, anna.department, anna.location, anna.language) == ("Anna de Vries", "HR", "Utrecht", "nl")
    assert accounts == [
        ("matrix", "@anna:example.org", "directory"),
        ("slack", "U01ANNA", "directory"),
        ("telegram", "1001", "directory"),
    ]

    again = await _import(store, CSV)
    assert (again.created, again.updated, again.unchanged, again.identities_linked) == (0, 0, 2, 0)

    moved = await _import(store, "email,location\nbram@example.org,Antwerpen\n")
    # Only the columns given change; the name is needed for every row.
    assert moved.failed[0].reason == "name is empty"
    moved = await _import(store, "email,name,location\nbram@example.org,Bram Bakker,Antwerpen\n")
    assert (moved.updated, moved.unchanged) == (1, 0)
    bram, _ = (await _people(store))["bram@example.org"]
    assert (bram.location, bram.department, bram.language) == ("Antwerpen", "IT", "en")


async def test_json_lines_take_the_same_keys(store: Store) -> None:
    text = (
        '{"email": "carla@example.org", "name": "Carla", "telegram": 1003, "language": "nl"}\n'
        "\n"
        '{"email": "dirk@example.org", "name": "Dirk", "matrix": "not-an-mxid"}\n'
        "[1, 2]\n"
        '{"email": "eva@example.org", "name": "Eva", "slack": "W0EVA"}\n'
    )
    result = await _import(store, text)
    assert (result.created, result.identities_linked) == (2, 2)
    assert sorted((f.line, f.reason) for f in result.failed) == [
        (3, "matrix 'not-an-mxid' is not a Matrix id like @anna:example.org"),
        (4, "not a JSON object"),
    ]
    people = await _people(store)
    assert people["carla@example.org"][1] == [("telegram", "1003", "directory")]
    assert people["eva@example.org"][1] == [("slack", "W0EVA", "directory")]


@pytest.mark.parametrize(
    "text",
    ["email,name,phone\na@example.org,A,123\n", '{"email": "a@example.org", "name": "A", "phone": "1"}\n'],
)
def test_an_unknown_column_is_an_error_listing_the_known_ones(text: str) -> None:
    with pytest.raises(MalformedDirectory) as refused:
        parse_directory(text, PLATFORMS)
    assert "'phone'" in str(refused.value)
    assert all(column in str(refused.value) for column in COLUMNS)


async def test_a_bad_row_fails_alone(store: Store) -> None:
    text = (
        "email,name,telegram,language\n"
        "anna@example.org,Anna,1001,nl\n"
        "not-an-email,Bram,1002,en\n"
        "carla@example.org,Carla,12ab,nl\n"
        "dirk@example.org,Dirk,1004,dutch!\n"
        "eva@example.org,Eva,1001,en\n"
        "anna@example.org,Anna again,,\n"
        "fien@example.org,Fien,1006,\n"
    )
    result = await _import(store, text)
    assert result.created == 2  # Anna and Fien
    assert sorted((f.line, f.reason) for f in result.failed) == [
        (3, "'not-an-email' is not an email address"),
        (4, "telegram '12ab' is not a numeric Telegram user id"),
        (5, "language 'dutch!' is not a language code like nl or en"),
        (6, "telegram:1001 is listed on line 2 too"),
        (7, "anna@example.org is listed on line 2 too"),
    ]
    assert set(await _people(store)) == {"anna@example.org", "fien@example.org"}


async def test_the_older_identities_column_still_links(store: Store) -> None:
    result = await _import(store, "name,email,department,identities\nAnna,anna@example.org,HR,console:anna;slack:U01\n")
    assert (result.created, result.identities_linked) == (1, 2)
    assert (await _people(store))["anna@example.org"][1] == [
        ("console", "anna", "directory"),
        ("slack", "U01", "directory"),
    ]


async def test_a_slack_email_is_looked_up_in_the_workspace(store: Store) -> None:
    text = "email,name,slack\nanna@example.org,Anna,anna@example.org\nbram@example.org,Bram,bram@other.org\n"
    without = await _import(store, text)
    assert without.created == 0 and all("users:read.email" in f.reason for f in without.failed)

    asked: list[Sequence[str]] = []

    async def workspace(emails: Sequence[str]) -> dict[str, str]:
        asked.append(list(emails))
        return {"anna@example.org": "U0ANNA"}

    result = await _import(store, text, workspace)
    assert asked == [["anna@example.org", "bram@other.org"]]  # one batch for the whole file
    assert result.created == 1
    assert [(f.line, f.reason) for f in result.failed] == [(3, "no Slack account has the email 'bram@other.org'")]
    assert (await _people(store))["anna@example.org"][1] == [("slack", "U0ANNA", "directory")]
