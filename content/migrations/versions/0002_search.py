"""full-text search over posts

Revision ID: 0002
Revises: 0001

SQLite: an external-content FTS5 table ``posts_fts`` (title, body) kept in step with ``posts`` by
triggers. ``unicode61 remove_diacritics 2`` folds case and accents (financiële = financiele) and
stems nothing, so Dutch and English are treated alike; queries use prefix terms, which also find
Dutch compounds (``verlof`` finds ``verlofregeling``).

PostgreSQL: a stored generated ``tsvector`` column ``posts.search_vector`` with a GIN index. It holds
the text three ways: 'simple' on lower-cased, accent-folded text (prefix matching, any language),
and the 'dutch' and 'english' snowball stemmers (``regelingen`` finds ``regeling``, ``meetings``
finds ``meeting``). Accents are folded with translate(), which is immutable, so no extension
(unaccent) is needed.

NOTE for later migrations: on SQLite, ``batch_alter_table('posts')`` recreates the table and drops
these triggers. A migration that does so must recreate them (copy ``_SQLITE_TRIGGERS``) and run
``INSERT INTO posts_fts(posts_fts) VALUES('rebuild')``.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Accent folding shared by the column and content/search.py (keep both in step).
FOLD_FROM = "àáâãäåāèéêëēėęìíîïīįòóôõöøōùúûüūýÿñńçčšžł"
FOLD_TO = "aaaaaaaeeeeeeeiiiiiiooooooouuuuuyynnccszl"

_SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE posts_fts USING fts5("
    "title, body, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
         INSERT INTO posts_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
       END""",
    """CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
         INSERT INTO posts_fts(posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
       END""",
    """CREATE TRIGGER posts_fts_update AFTER UPDATE OF title, body ON posts BEGIN
         INSERT INTO posts_fts(posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
         INSERT INTO posts_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
       END""",
)


def _pg_vector() -> str:
    def folded(column: str) -> str:
        return f"translate(lower({column}), '{FOLD_FROM}', '{FOLD_TO}')"

    parts = [
        f"setweight(to_tsvector('simple'::regconfig, {folded('title')}), 'A')",
        f"setweight(to_tsvector('simple'::regconfig, {folded('body')}), 'B')",
    ]
    for config in ("dutch", "english"):
        parts.append(f"setweight(to_tsvector('{config}'::regconfig, title), 'A')")
        parts.append(f"setweight(to_tsvector('{config}'::regconfig, body), 'B')")
    return " || ".join(parts)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(_SQLITE_TABLE)
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
        # Index the posts that exist already.
        op.execute("INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(f"ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({_pg_vector()}) STORED")
        op.execute("CREATE INDEX ix_posts_search_vector ON posts USING gin (search_vector)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("posts_fts_update", "posts_fts_delete", "posts_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS posts_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_posts_search_vector")
        op.execute("ALTER TABLE posts DROP COLUMN IF EXISTS search_vector")
