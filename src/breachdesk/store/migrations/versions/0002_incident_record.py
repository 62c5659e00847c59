"""The incident record: incident details, awareness per party, timeline, tasks, decisions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("vendor", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
        batch.add_column(sa.Column("dataset_arrived_at", sa.String(40), nullable=True))
        batch.add_column(
            sa.Column("official_domains", sa.Text, nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("sender", sa.String(320), nullable=False, server_default=""))
    op.create_table(
        "awareness",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("party", sa.String(100), nullable=False),
        sa.Column("aware_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("incident_id", "party"),
    )
    op.create_table(
        "timeline_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_table(
        "task",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due_at", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("closed_at", sa.String(40), nullable=True),
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decision")
    op.drop_table("task")
    op.drop_table("timeline_event")
    op.drop_table("awareness")
    with op.batch_alter_table("incident") as batch:
        for column in ("sender", "official_domains", "dataset_arrived_at", "timezone", "vendor"):
            batch.drop_column(column)
