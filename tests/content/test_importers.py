"""Importing the old intranet: RSS 2.0, Atom and JSON lines parsed (pure), then imported from feeds
served on loopback and from a file, idempotently and all-or-nothing per source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import FeedConfig
from bot.services.importing import import_source, poll_feed
from content import posts
from content.analytics import ARCHIVE_SOURCE
from content.importers import ImportedItem, MalformedSource, item_key, parse_feed, parse_jsonl, parse_source
from content.models import CtaKind, Delivery, Post, PostState
from tests.conftest import ConsoleApp
from tests.feeds import serve_feeds

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Intranet nieuws</title><link>http://intra.example/</link><description>x</description>
  <item>
    <title>Nieuwe verlofregeling</title>
    <link>http://intra.example/nieuws/verlof</link>
    <guid isPermaLink="false">nieuws-101</guid>
    <pubDate>Mon, 02 Nov 2026 09:00:00 +0100</pubDate>
    <description><![CDATA[<p>Vanaf <b>januari</b> geldt de <a href="/hr/verlof">nieuwe regeling</a>.</p>
      <script>alert(1)</script>]]></description>
  </item>
  <item>
    <title>Kantine &amp; koffie</title>
    <link>http://intra.example/nieuws/kantine</link>
    <description>De kantine is vrijdag dicht.</description>
  </item>
  <item><description>An item without a title is reported, not imported.</description></item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://kb.example/">
  <title>Knowledge base</title><id>urn:kb</id><updated>2026-11-01T10:00:00Z</updated>
  <entry>
    <title>VPN setup</title><id>urn:kb:vpn</id><link href="articles/vpn"/>
    <updated>2026-10-01T10:00:00Z</updated>
    <content type="html">&lt;h2&gt;Steps&lt;/h2&gt;
      &lt;ol&gt;&lt;li&gt;Install the client&lt;/li&gt;&lt;li&gt;Sign in&lt;/li&gt;&lt;/ol&gt;
      &lt;img src="img/vpn.png" alt="screenshot"&gt;</content>
  </entry>
  <entry>
    <title>Printer on floor 2</title><id>urn:kb:printer</id><link href="articles/printer"/>
    <updated>2026-10-02T10:00:00Z</updated>
    <summary>Use the queue *floor2*.</summary>
  </entry>
</feed>
"""

BROKEN_RSS = RSS[: RSS.index(b"<item><description>")]  # cut off mid-channel: not well-formed

JSONL_LINES = [
    {"title": "Wifi voor gasten", "body": "<p>Netwerk <em>Gast</em>, wachtwoord bij de receptie.</p>", "kind": "kb",
     "url": "http://old.example/kb/wifi", "date": "2025-03-01T12:00:00Z"},
    {"title": "Personeelsvergadering", "body": "Donderdag **10:00**, grote zaal.", "format": "markdown",
     "kind": "agenda", "date": 1767225600},
    {"title": "Parkeren", "markdown": "Gebruik *de achteringang*.", "id": "kb-7"},
]  # fmt: skip


def _jsonl(lines: list[dict[str, object]]) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


# ---------------------------------------------------------------------------------------------
# Parsing (pure)


def test_rss_items_become_markdown_posts() -> None:
    parsed = parse_feed(RSS, "http://intra.example/rss")
    assert parsed.format == "rss20" and parsed.title == "Intranet nieuws"
    first, second = parsed.items
    assert first.title == "Nieuwe verlofregeling"
    assert first.body == "Vanaf **januari** geldt de [nieuwe regeling](http://intra.example/hr/verlof)."
    assert first.guid == "nieuws-101" and first.url == "http://intra.example/nieuws/verlof"
    assert first.published == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert second.title == "Kantine & koffie" and second.body == "De kantine is vrijdag dicht."
    assert [(f.where, f.reason) for f in parsed.failed] == [("entry 3", "it has no title")]


def test_atom_entries_with_relative_links_and_images() -> None:
    parsed = parse_feed(ATOM)
    assert parsed.format == "atom10"
    vpn, printer = parsed.items
    assert vpn.url == "http://kb.example/articles/vpn" and vpn.guid == "urn:kb:vpn"
    assert vpn.body == "## Steps\n\n1. Install the client\n2. Sign in\n\n[screenshot](http://kb.example/img/vpn.png)"
    assert printer.body == "Use the queue *floor2*."


def test_jsonl_records() -> None:
    parsed = parse_jsonl(_jsonl(JSONL_LINES))
    wifi, meeting, parking = parsed.items
    assert wifi.body == "Netwerk *Gast*, wachtwoord bij de receptie." and wifi.kind == "kb"
    assert wifi.published == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert meeting.body == "Donderdag **10:00**, grote zaal." and meeting.published == datetime(2026, 1, 1, tzinfo=UTC)
    assert parking.body == "Gebruik *de achteringang*." and parking.guid == "kb-7" and parking.kind is None


def test_jsonl_item_problems_are_listed_with_their_line() -> None:
    parsed = parse_jsonl(
        _jsonl([{"title": "ok"}, {"body": "no title"}, {"title": "x", "kind": "blog"}, {"title": "y", "date": "soon"}])
    )
    assert [i.title for i in parsed.items] == ["ok"]
    assert [(f.where, f.reason) for f in parsed.failed] == [
        ("line 2", "it has no title"),
        ("line 3", "kind 'blog' is not one of news, agenda, kb"),
        ("line 4", "date 'soon' is not ISO 8601 or Unix seconds"),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BROKEN_RSS, "not well-formed XML"),
        (b"<html><body><p>Intranet</p></body></html>", "not an RSS or Atom feed"),
        (b'{"title": "a"}\n{"title": ', "line 2 is not JSON"),
        (b'{"title": "a"}\n[1, 2]', "line 2 is not a JSON object"),
    ],
)
def test_a_malformed_source_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedSource, match=reason):
        parse_source(data, "upload")


def test_keys_prefer_guid_then_url_and_scope_bare_guids() -> None:
    item = ImportedItem("t", "b", url="http://x.example/1", guid="1234")
    assert item_key(item, "http://a.example/rss") == "guid:http://a.example/rss#1234"
    assert item_key(item, "http://b.example/rss") != item_key(item, "http://a.example/rss")
    assert item_key(ImportedItem("t", "b", guid="urn:kb:vpn"), "x") == "guid:urn:kb:vpn"
    assert item_key(ImportedItem("t", "b", url="http://x.example/1"), "x") == "url:http://x.example/1"
    assert item_key(ImportedItem("t", "b"), "x").startswith("content:")
    assert len(item_key(ImportedItem("t", "b", guid="urn:" + "x" * 600), "x")) <= 500


# ---------------------------------------------------------------------------------------------
# Importing over loopback and from files


@pytest.fixture
def feed_server() -> Iterator[tuple[str, dict[str, tuple[bytes, str]]]]:
    with serve_feeds({"/rss": RSS, "/atom": ATOM, "/broken": BROKEN_RSS}) as served:
        yield served


async def _count(ctx: ConsoleApp, model: type[Post] | type[Delivery]) -> int:
    async with ctx.app.store.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_rss_over_loopback_is_published_once(
    console_app: ConsoleApp, feed_server: tuple[str, dict[str, tuple[bytes, str]]]
) -> None:
    base, _ = feed_server
    importer = console_app.app.importer
    report = await import_source(importer, f"{base}/rss")
    assert report.error is None and [t for _, t in report.imported] == ["Nieuwe verlofregeling", "Kantine & koffie"]
    assert [f.reason for f in report.failed] == ["it has no title"]
    await console_app.app.settle()
    async with console_app.app.store.sessions() as session:
        post = await posts.get_post(session, report.imported[0][0])
        assert post is not None and post.state == PostState.PUBLISHED and post.cta_kind == CtaKind.LINK
        assert post.cta_url == "http://intra.example/nieuws/verlof" and post.click_token
        assert [d.state for d in await posts.deliveries_of(session, post.id)] == ["sent"]
    assert "Nieuwe verlofregeling" in "\n".join(console_app.console.messages.values())

    again = await import_source(importer, f"{base}/rss")
    assert again.imported == [] and again.duplicates == ["Nieuwe verlofregeling", "Kantine & koffie"]
    assert await _count(console_app, Post) == 2 and await _count(console_app, Delivery) == 2


async def test_atom_over_loopback_as_knowledge_base(
    console_app: ConsoleApp, feed_server: tuple[str, dict[str, tuple[bytes, str]]]
) -> None:
    base, _ = feed_server
    importer = console_app.app.importer
    report = await import_source(importer, f"{base}/atom", kind="kb")
    assert len(report.imported) == 2 and report.ok
    assert await _count(console_app, Delivery) == 0  # the knowledge base never goes to the feed
    await console_app.say("anna: /kb vpn")
    assert console_app.replies_to("anna")[-1].startswith(f"#{report.imported[0][0]} VPN setup")
    assert (await import_source(importer, f"{base}/atom", kind="kb")).duplicates == ["VPN setup", "Printer on floor 2"]


async def test_jsonl_file_archived_is_searchable_but_never_sent(console_app: ConsoleApp, tmp_path: Path) -> None:
    export = tmp_path / "intranet.jsonl"
    export.write_bytes(_jsonl([*JSONL_LINES, {"title": "Oud nieuws", "body": "<p>Archief</p>"}]))
    importer = console_app.app.importer
    report = await import_source(importer, str(export), archive=True)
    assert report.ok and len(report.imported) == 4
    async with console_app.app.store.sessions() as session:
        stored = list((await session.execute(select(Post).order_by(Post.id))).scalars())
        assert {p.source for p in stored} == {ARCHIVE_SOURCE} and {p.state for p in stored} == {PostState.PUBLISHED}
        assert [p.kind for p in stored] == ["kb", "agenda", "news", "news"]
        assert stored[0].published_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # the item's own date
        assert [p.title for p in await posts.search_posts(session, "archief")] == ["Oud nieuws"]
    assert await _count(console_app, Delivery) == 0
    assert (await import_source(importer, str(export), archive=True)).imported == []
    assert await _count(console_app, Post) == 4


async def test_malformed_feed_reports_why_and_imports_nothing(
    console_app: ConsoleApp, feed_server: tuple[str, dict[str, tuple[bytes, str]]], tmp_path: Path
) -> None:
    base, _ = feed_server
    importer = console_app.app.importer
    broken = await import_source(importer, f"{base}/broken")
    assert broken.error is not None and broken.error.startswith("not well-formed XML")
    missing = await import_source(importer, f"{base}/gone")
    assert missing.error == f"{base}/gone answered HTTP 404"
    half = tmp_path / "half.jsonl"
    half.write_bytes(_jsonl(JSONL_LINES) + b'\n{"title": "cut off')
    cut = await import_source(importer, str(half))
    assert cut.error is not None and cut.error.startswith("line 4 is not JSON")
    assert await _count(console_app, Post) == 0  # not one item of a broken source


async def test_a_failure_while_storing_leaves_nothing_behind(
    console_app: ConsoleApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "intranet.jsonl"
    export.write_bytes(_jsonl(JSONL_LINES))
    importer = console_app.app.importer
    calls = 0

    def crash_on_third() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        await import_source(importer, str(export), on_item=crash_on_third)
    assert await _count(console_app, Post) == 0


async def test_feed_polling_archives_the_back_catalogue_then_publishes_new_items(
    console_app: ConsoleApp, feed_server: tuple[str, dict[str, tuple[bytes, str]]]
) -> None:
    base, documents = feed_server
    importer = console_app.app.importer
    feed = FeedConfig(url=f"{base}/rss", interval=600, kind="news")
    first = await poll_feed(importer, feed)
    assert len(first.imported) == 2 and await _count(console_app, Delivery) == 0
    newer = RSS.replace(
        b"<item><description>",
        b"<item><title>Kerstborrel</title><link>http://intra.example/nieuws/borrel</link></item><item><description>",
    )
    documents["/rss"] = (newer, "application/rss+xml")
    second = await poll_feed(importer, feed)
    assert [t for _, t in second.imported] == ["Kerstborrel"] and second.duplicates == [
        "Nieuwe verlofregeling",
        "Kantine & koffie",
    ]
    await console_app.app.settle()
    assert await _count(console_app, Delivery) == 1
    documents.pop("/rss")
    failed = await poll_feed(importer, feed)  # never raises: the scheduler keeps going
    assert failed.error is not None and "404" in failed.error
