"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector), in Dutch and English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update

from content import posts
from content.db import Store
from content.models import Post, PostKind, PostState
from content.search import search, terms
from tests.conftest import ConsoleApp

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

CORPUS = [
    ("Nieuwe verlofregeling", "Vanaf januari geldt de nieuwe regeling voor ouderschapsverlof.", PostKind.NEWS),
    ("Financiële jaarcijfers", "De cijfers over het afgelopen jaar staan op het intranet.", PostKind.NEWS),
    ("Wifi voor gasten", "Het netwerk heet Gast; het wachtwoord ligt bij de receptie.", PostKind.KB),
    ("Team meetings move", "All team meetings move to Tuesday mornings from next week.", PostKind.NEWS),
    ("Expense claims", "Submit your expenses before the 25th; the finance team pays them monthly.", PostKind.KB),
    ("Personeelsvergadering", "Donderdag om tien uur in de grote zaal, met koffie.", PostKind.AGENDA),
    ("Leave policy", "The new leave policy covers parental leave as well.", PostKind.NEWS),
]


async def _seed(store: Store, extra: list[tuple[str, str, PostKind, PostState]] | None = None) -> dict[str, int]:
    ids: dict[str, int] = {}
    rows = [(t, b, k, PostState.PUBLISHED) for t, b, k in CORPUS] + (extra or [])
    async with store.transaction() as session:
        for title, body, kind, state in rows:
            post = Post(
                title=title,
                body=body,
                kind=kind,
                state=state,
                cta_options=[],
                audience=["everyone"],
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(post)
            await session.flush()
            ids[title] = post.id
    return ids


async def _titles(store: Store, words: str, kinds: list[str] | None = None) -> list[str]:
    async with store.sessions() as session:
        return [hit.post.title for hit in await search(session, words, kinds)]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("verlof", "Nieuwe verlofregeling"),  # a Dutch compound, found by its first part
        ("ouderschapsverlof", "Nieuwe verlofregeling"),
        ("financiele", "Financiële jaarcijfers"),  # accents folded
        ("FINANCIËLE jaarcijfers", "Financiële jaarcijfers"),
        ("wachtwoord gast", "Wifi voor gasten"),  # every word, in any order
        ("meeting", "Team meetings move"),  # English plural
        ("expense claims", "Expense claims"),
        ("personeel koffie", "Personeelsvergadering"),
    ],
)
async def test_dutch_and_english_words_find_their_post(store: Store, words: str, expected: str) -> None:
    await _seed(store)
    found = await _titles(store, words)
    assert found and found[0] == expected, found


async def test_plurals_find_singulars_in_both_languages(store: Store) -> None:
    await _seed(store)
    assert "Nieuwe verlofregeling" in await _titles(store, "regelingen")
    assert "Expense claims" in await _titles(store, "expenses claim")


async def test_every_word_must_match(store: Store) -> None:
    await _seed(store)
    assert await _titles(store, "verlof tuesday") == []
    assert await _titles(store, "zebra") == []


async def test_title_matches_rank_above_body_matches(store: Store) -> None:
    await _seed(store)
    found = await _titles(store, "leave")
    assert found[0] == "Leave policy"


async def test_only_published_posts_and_chosen_kinds(store: Store) -> None:
    await _seed(
        store,
        [
            ("Concept verlofplan", "nog niet af", PostKind.NEWS, PostState.DRAFT),
            ("Ingetrokken verlofbericht", "weg", PostKind.NEWS, PostState.RETRACTED),
            ("Verlopen verlofpeiling", "gesloten", PostKind.NEWS, PostState.EXPIRED),
        ],
    )
    found = await _titles(store, "verlof")
    assert "Concept verlofplan" not in found and "Ingetrokken verlofbericht" not in found
    assert "Verlopen verlofpeiling" in found  # closed posts stay findable
    assert await _titles(store, "wachtwoord", [PostKind.KB]) == ["Wifi voor gasten"]
    assert await _titles(store, "wachtwoord", [PostKind.NEWS]) == []


async def test_snippet_marks_the_matched_words(store: Store) -> None:
    await _seed(store)
    async with store.sessions() as session:
        (hit,) = await search(session, "receptie", marks=("[", "]"))
    assert "[receptie]" in hit.snippet
    assert hit.rank > 0 or hit.rank == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("words", ['"', "AND OR NOT", "verlof*", "NEAR(a b)", "a:b", "' OR 1=1 --", "!!!", "", "\\"])
async def test_query_syntax_in_input_is_never_an_error(store: Store, words: str) -> None:
    await _seed(store)
    async with store.sessions() as session:
        await search(session, words)  # no exception is the point


def test_terms_are_words_only() -> None:
    assert terms('Verlof* "AND" c++ e-mail') == ["verlof", "and", "c", "e", "mail"]


async def test_index_follows_edits_and_deletes(store: Store) -> None:
    ids = await _seed(store)
    async with store.transaction() as session:
        await session.execute(
            update(Post).where(Post.id == ids["Wifi voor gasten"]).values(title="Draadloos netwerk", body="Nieuw")
        )
    assert await _titles(store, "draadloos") == ["Draadloos netwerk"]
    assert await _titles(store, "wachtwoord") == []
    async with store.transaction() as session:
        await session.execute(delete(Post).where(Post.id == ids["Wifi voor gasten"]))
    assert await _titles(store, "draadloos") == []


async def test_search_posts_keeps_its_signature(store: Store) -> None:
    await _seed(store)
    async with store.sessions() as session:
        found = await posts.search_posts(session, "verlof", limit=1)
    assert [p.title for p in found] == ["Nieuwe verlofregeling"]


async def test_search_and_kb_commands_use_full_text(console_app: ConsoleApp) -> None:
    await console_app.say(
        "mod: /post Nieuwe verlofregeling | Vanaf januari geldt de regeling voor ouderschapsverlof. | cta: like",
        "mod: /post Wifi voor gasten | Het wachtwoord ligt bij de receptie | kind: kb",
        "anna: /search regelingen",
        "anna: /kb wachtwoorden",
        "anna: /search meetings",
    )
    replies = console_app.replies_to("anna")
    assert replies[0].startswith("#1 Nieuwe verlofregeling")
    assert replies[1].startswith("#2 Wifi voor gasten")
    assert replies[2] == "nothing found for 'meetings'"
