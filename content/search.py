"""Full-text search over published posts, agenda items and knowledge-base articles, ranked, with a
snippet. SQLite uses the FTS5 table of migration 0002, PostgreSQL its generated ``tsvector`` column.

Dutch and English both work: the query is cut into words (letters and digits only, so no input can
break the query syntax), every word must match, and each matches as a prefix of an accent-folded
word (``verlof`` finds ``verlofregeling``, ``financiele`` finds ``financiële``). PostgreSQL also
matches each word's Dutch and English stem (``regelingen`` finds ``regeling``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import Post, PostState

SEARCHABLE_STATES = (PostState.PUBLISHED.value, PostState.EXPIRED.value)
MAX_TERMS = 12
_WORD = re.compile(r"[^\W_]+")
# Keep in step with FOLD_FROM/FOLD_TO in migration 0002 (the column is built with the same pair).
FOLD_FROM = "àáâãäåāèéêëēėęìíîïīįòóôõöøōùúûüūýÿñńçčšžł"
FOLD_TO = "aaaaaaaeeeeeeeiiiiiiooooooouuuuuyynnccszl"


@dataclass(frozen=True, slots=True)
class SearchHit:
    post: Post
    rank: float  # higher is better; comparable within one result list only
    snippet: str  # a piece of the body with the matched words between the marks


def terms(words: str) -> list[str]:
    """The words of a query, lower-cased, without operators or punctuation."""
    return [w.lower() for w in _WORD.findall(words)][:MAX_TERMS]


async def search(
    session: AsyncSession,
    words: str,
    kinds: Sequence[str] | None = None,
    limit: int = 10,
    *,
    marks: tuple[str, str] = ("**", "**"),
) -> list[SearchHit]:
    """Best matches first. ``marks`` surround matched words in the snippet (Markdown bold by default)."""
    found = terms(words)
    if not found or limit <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = await _postgres(session, found, kinds, limit, marks)
    else:
        rows = await _sqlite(session, found, kinds, limit, marks)
    if not rows:
        return []
    loaded = await session.execute(select(Post).where(Post.id.in_([r[0] for r in rows])))
    by_id = {p.id: p for p in loaded.scalars()}
    return [SearchHit(by_id[pid], float(rank), snippet or "") for pid, rank, snippet in rows if pid in by_id]


def _singulars(word: str) -> list[str]:
    """The word and its forms without a Dutch or English plural ending (-en, -es, -s)."""
    forms = [word]
    for suffix in ("en", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            forms.append(word[: -len(suffix)])
    return forms


def _kind_filter(kinds: Sequence[str] | None, column: str) -> str:
    return f" AND {column} IN :kinds" if kinds else ""


async def _sqlite(
    session: AsyncSession, found: list[str], kinds: Sequence[str] | None, limit: int, marks: tuple[str, str]
) -> list[tuple[int, float, str | None]]:
    # Each word quoted (so FTS5 reads it as a string, never as an operator) and matched as a prefix;
    # SQLite has no stemmer, so a plural also matches as its singular (regelingen → regeling*).
    match = " AND ".join("(" + " OR ".join(f'"{v}"*' for v in _singulars(word)) + ")" for word in found)
    statement = text(
        # bm25 is smaller for better matches; title hits weigh four times body hits.
        "SELECT p.id, -bm25(posts_fts, 4.0, 1.0) AS rank,"
        " snippet(posts_fts, 1, :open, :close, '…', 24) AS snip"
        " FROM posts_fts JOIN posts AS p ON p.id = posts_fts.rowid"
        " WHERE posts_fts MATCH :match AND p.state IN :states"
        + _kind_filter(kinds, "p.kind")
        + " ORDER BY rank DESC, p.id DESC LIMIT :limit"
    ).bindparams(bindparam("states", expanding=True), *([bindparam("kinds", expanding=True)] if kinds else []))
    params: dict[str, object] = {
        "open": marks[0],
        "close": marks[1],
        "match": match,
        "states": list(SEARCHABLE_STATES),
        "limit": limit,
    }
    if kinds:
        params["kinds"] = list(kinds)
    return [(r[0], r[1], r[2]) for r in (await session.execute(statement, params)).all()]


def _pg_query(count: int) -> tuple[str, str]:
    """The tsquery (every word, each by prefix or by either stem) and the one used for highlighting
    (any word by prefix: the headline is parsed with 'simple', so stems would not light up)."""
    fold = f"translate(lower(CAST(:w{{i}} AS text)), '{FOLD_FROM}', '{FOLD_TO}')"
    per_word = []
    prefixes = []
    for i in range(count):
        prefix = f"to_tsquery('simple', {fold.format(i=i)} || ':*')"
        prefixes.append(prefix)
        per_word.append(f"({prefix} || plainto_tsquery('dutch', :w{i}) || plainto_tsquery('english', :w{i}))")
    return " && ".join(per_word), " || ".join(prefixes)


async def _postgres(
    session: AsyncSession, found: list[str], kinds: Sequence[str] | None, limit: int, marks: tuple[str, str]
) -> list[tuple[int, float, str | None]]:
    query, highlight = _pg_query(len(found))
    statement = text(
        # Rank first, then build headlines (expensive) for the page of results only.
        f"WITH q AS (SELECT {query} AS query, {highlight} AS highlight),"
        " hits AS ("
        "  SELECT p.id, p.body, ts_rank_cd(p.search_vector, q.query) AS rank, q.highlight"
        "  FROM posts AS p, q"
        "  WHERE p.search_vector @@ q.query AND p.state IN :states"
        + _kind_filter(kinds, "p.kind")
        + "  ORDER BY rank DESC, p.id DESC LIMIT :limit)"
        " SELECT id, rank, ts_headline('simple', body, highlight, :options) FROM hits ORDER BY rank DESC, id DESC"
    ).bindparams(bindparam("states", expanding=True), *([bindparam("kinds", expanding=True)] if kinds else []))
    params: dict[str, object] = {f"w{i}": word for i, word in enumerate(found)}
    params.update(
        {
            "states": list(SEARCHABLE_STATES),
            "limit": limit,
            "options": _headline_options(marks),
        }
    )
    if kinds:
        params["kinds"] = list(kinds)
    return [(r[0], r[1], r[2]) for r in (await session.execute(statement, params)).all()]


def _headline_options(marks: tuple[str, str]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    return (
        f"StartSel={quoted(marks[0])}, StopSel={quoted(marks[1])}, MaxWords=24, MinWords=8, "
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
