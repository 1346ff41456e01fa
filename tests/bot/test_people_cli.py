"""`prikbord people import | export | forget` as an operator runs them, and the same through the
admin API on SQLite and PostgreSQL: one document of everything stored about a person; forgetting
erases it but keeps the totals; a forgotten account that acts again is a new, unlinked person."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from adapters.base import UserRef
from bot.clock import FrozenClock
from bot.services.drafts import CallToAction, PostDraft
from bot.services.engagement import Request
from bot.services.roles import Role
from content.db import Store
from content.models import CtaKind, Response
from tests.web.conftest import WebHarness, build_app, web, web_settings  # noqa: F401  (web: the fixture)

DIRECTORY = (
    "email,name,department,location,language,telegram,identities\n"
    "anna@example.org,Anna de Vries,HR,Utrecht,nl,1001,console:anna\n"
)


def prikbord(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    try:
        return subprocess.run([exe, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired as exc:  # say where it hung: what it printed so far
        said = [
            part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
            for part in (exc.stdout, exc.stderr)
        ]
        raise AssertionError(
            f"prikbord {' '.join(args)} hung for 120 s\nstdout: {said[0][-3000:]}\nstderr: {said[1][-3000:]}"
        ) from None


def _stats(cwd: Path, post_id: int) -> dict[str, int]:
    shown = prikbord(["stats", str(post_id), "--json"], cwd)
    assert shown.returncode == 0, shown.stderr
    counts: dict[str, int] = json.loads(shown.stdout)["counts"]
    return counts


def test_import_export_forget_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(DIRECTORY)
    first = prikbord(["people", "import", "people.csv"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created 1, updated 0, unchanged 0, accounts linked 2, failed 0")
    again = prikbord(["people", "import", "people.csv", "--json"], tmp_path)
    assert json.loads(again.stdout) == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "identities_linked": 0,
        "failed": [],
    }
    (tmp_path / "bad.jsonl").write_text('{"email": "x@example.org", "name": "X", "phone": "1"}\n')
    refused = prikbord(["people", "import", "bad.jsonl"], tmp_path)
    assert refused.returncode == 1 and "unknown column 'phone'" in refused.stderr and "telegram" in refused.stderr

    for title, cta in (("Verlof", "acknowledge"), ("Ideeën", "reply")):
        made = prikbord(["post", "--title", title, "--cta", cta], tmp_path)
        assert made.returncode == 0, made.stderr
    script = "anna: /ack 1\nanna: /reply 2 Mijn geheime tekst\nanna: /privacy\n"
    ran = prikbord(["run"], tmp_path, script)
    assert ran.returncode == 0, ran.stderr
    # Anna's directory language is Dutch: /privacy answers her in Dutch.
    assert "Wat prikbord over je bewaart" in ran.stdout and "people forget" in ran.stdout

    exported = prikbord(["people", "export", "anna@example.org"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["employee"]["email"] == "anna@example.org"
    assert document["employee"]["location"] == "Utrecht" and document["employee"]["language"] == "nl"
    assert {(a["platform"], a["user_id"], a["linked_how"]) for a in document["accounts"]} == {
        ("console", "anna", "directory"),
        ("telegram", "1001", "directory"),
    }
    assert [(r["kind"], r["post_id"], r["text"]) for r in document["responses"]] == [
        ("ack", 1, None),
        ("reply", 2, "Mijn geheime tekst"),
    ]
    assert set(document) == {"employee", "accounts", "responses", "reminders", "audit"}

    forgotten = prikbord(["people", "forget", "anna@example.org", "--yes"], tmp_path)
    assert forgotten.returncode == 0, forgotten.stderr
    assert "2 accounts" in forgotten.stdout and "1 reply" in forgotten.stdout
    gone = prikbord(["people", "export", "anna@example.org"], tmp_path)
    assert gone.returncode == 1 and "no employee has the email" in gone.stderr
    assert _stats(tmp_path, 1) == {"ack": 1} and _stats(tmp_path, 2) == {"reply": 1}  # totals unchanged

    # Nothing personal is left anywhere in the database (the forget entry included).
    with sqlite3.connect(tmp_path / "prikbord.db") as db:
        dump = "\n".join(db.iterdump()).lower()
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log")]
    for personal in ("anna", "utrecht", "geheime"):
        assert personal not in dump, personal
    # Anna's Telegram id as a value of its own, not the digits inside a timestamp's microseconds (".100193").
    assert re.search(r"(?<![\d.])1001(?!\d)", dump) is None, "1001"
    assert "forget_person" in actions

    # The same account acting again is somebody new, not linked to anyone.
    ran = prikbord(["run"], tmp_path, "anna: /ack 1\nanna: /whoami\n")
    assert ran.returncode == 0, ran.stderr
    assert "not linked to anyone" in ran.stdout
    assert _stats(tmp_path, 1) == {"ack": 2}


async def test_export_and_forget_through_the_api(web: WebHarness) -> None:  # noqa: F811
    imported = await web.client.post("/api/employees/import", content=DIRECTORY, headers={"content-type": "text/csv"})
    assert imported.json()["created"] == 1
    created = await web.client.post("/api/posts", json={"title": "Idee", "call_to_action": {"kind": "reply"}})
    post_id = created.json()["id"]
    await web.app.settle()
    await web.app.engagement.submit(
        Request("telegram", None, UserRef("telegram", "1001", "Anna"), "reply", post_id=post_id, text="Goed plan")
    )

    exported = await web.client.get("/api/employees/anna@example.org/export")
    assert exported.status_code == 200
    assert [r["text"] for r in exported.json()["responses"]] == ["Goed plan"]
    assert (await web.client.get("/api/employees/nobody@example.org/export")).status_code == 404
    assert (await web.browser().get("/api/employees/anna@example.org/export")).status_code == 401

    forgotten = await web.client.post("/api/employees/anna@example.org/forget")
    assert forgotten.status_code == 200 and forgotten.json()["replies_erased"] == 1
    assert (await web.client.get("/api/employees/anna@example.org/export")).status_code == 404
    assert (await web.client.get(f"/api/posts/{post_id}")).json()["counts"] == {"reply": 1}
    entries = (await web.client.get("/api/audit")).json()
    forget = next(e for e in entries if e["action"] == "forget_person")
    assert forget["actor"] == "api" and "anna" not in json.dumps(forget).lower()
    employees = (await web.client.get("/api/employees")).json()
    assert all(e["email"] is None and "telegram:1001" not in e["identities"] for e in employees)


async def test_reply_texts_older_than_keep_replies_days_are_erased(store: Store) -> None:
    clock = FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    settings = web_settings(privacy={"keep_replies_days": 30})
    app = build_app(store, clock, settings)
    await app.prepare_store()
    post = await app.publishing.create(PostDraft(title="Ideeën", cta=CallToAction(CtaKind.REPLY)), "cli", Role.ADMIN)

    async def reply(user: str, text: str) -> None:
        await app.engagement.submit(
            Request("telegram", None, UserRef("telegram", user), "reply", post_id=post.id, text=text)
        )

    await reply("old", "van lang geleden")
    clock.advance(days=31)
    await reply("new", "van vandaag")
    await app.start()
    try:
        for _ in range(100):  # the job runs at start
            async with store.sessions() as session:
                texts = sorted((await session.execute(select(Response.text))).scalars(), key=str)
            if None in texts:
                break
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    assert texts == [None, "van vandaag"]  # sorted as text: None first
    async with store.sessions() as session:
        assert len(list((await session.execute(select(Response))).scalars())) == 2  # both still count
