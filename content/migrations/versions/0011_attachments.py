"""attachment_files, post_attachments, attachment_uploads: images and files on posts

Revision ID: 0011
Revises: 0010

Files are stored once, keyed by their sha-256, in the database (several instances on one PostgreSQL
share them); a post lists its files in order; each platform's upload of a file (Telegram file_id …)
is kept so every other copy sends the upload. New tables only: existing data is untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_attachment_files")),
    )
    op.create_table(
        "post_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_attachments_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["attachment_files.sha256"], name=op.f("fk_post_attachments_sha256_attachment_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_attachments")),
        sa.UniqueConstraint("post_id", "position", name=op.f("uq_post_attachments_post_id")),
    )
    op.create_index(op.f("ix_post_attachments_post_id"), "post_attachments", ["post_id"], unique=False)
    op.create_index(op.f("ix_post_attachments_sha256"), "post_attachments", ["sha256"], unique=False)
    op.create_table(
        "attachment_uploads",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("remote_ref", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["attachment_files.sha256"], name=op.f("fk_attachment_uploads_sha256_attachment_files")
        ),
        sa.PrimaryKeyConstraint("platform", "sha256", name=op.f("pk_attachment_uploads")),
    )


def downgrade() -> None:
    op.drop_table("attachment_uploads")
    op.drop_index(op.f("ix_post_attachments_sha256"), table_name="post_attachments")
    op.drop_index(op.f("ix_post_attachments_post_id"), table_name="post_attachments")
    op.drop_table("post_attachments")
    op.drop_table("attachment_files")
