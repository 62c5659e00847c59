"""The outbox: leasing and delivery columns on notice, and one row per delivery attempt.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("attempts", sa.Integer, "0"),
    ("not_before", sa.Float, "0"),
    ("lease_owner", sa.String(120), ""),
    ("lease_until", sa.Float, "0"),
    ("batch_id", sa.String(40), ""),
    ("message_id", sa.String(255), ""),
    ("template_version", sa.String(40), ""),
    ("body_hash", sa.String(64), ""),
    ("last_reply", sa.Text, ""),
)


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        for name, kind, default in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))
        batch.add_column(sa.Column("sent_at", sa.String(40), nullable=True))
        batch.create_index("ix_notice_status_due", ["status", "not_before"])
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notice_id", sa.Integer, nullable=False, index=True),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("worker", sa.String(120), nullable=False),
        sa.Column("attempted_at", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("smtp_code", sa.Integer, nullable=False),
        sa.Column("smtp_reply", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("template_version", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempt")
    with op.batch_alter_table("notice") as batch:
        batch.drop_index("ix_notice_status_due")
        batch.drop_column("sent_at")
        for name, _, _ in reversed(_COLUMNS):
            batch.drop_column(name)
