"""scheduler: reminders and APScheduler's job table

Revision ID: 0003
Revises: 0002

``reminders`` records private must-read reminders and deadline summaries before they are sent, so a
restart or a second instance never sends one twice. ``apscheduler_jobs`` is the layout of
APScheduler 3's SQLAlchemyJobStore (which would otherwise create it on first start): created here so
the schema has one owner and two instances starting at once do not race to create it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import content.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", content.models.UTCDateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", content.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_reminders_employee_id_employees"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_reminders_post_id_posts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("key", name=op.f("uq_reminders_key")),
    )
    op.create_index("ix_reminders_post_state_due", "reminders", ["post_id", "state", "due_at"], unique=False)
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(op.f("ix_apscheduler_jobs_next_run_time"), "apscheduler_jobs", ["next_run_time"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_apscheduler_jobs_next_run_time"), table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_reminders_post_state_due", table_name="reminders")
    op.drop_table("reminders")
