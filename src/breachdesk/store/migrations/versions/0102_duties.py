"""Duties with a lifecycle: each regime's state (open, in progress, done, not required) with
its owner, rationale and reasons for a delay, and the filings made for it (the notification
and its follow-ups).

Revision ID: 0102_duties
Revises: 0101_signin
"""

import sqlalchemy as sa
from alembic import op

revision = "0102_duties"
down_revision = "0101_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("rationale", sa.Text, nullable=False, server_default=""),
        sa.Column("delay_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("incident_id", "rule"),
    )
    op.create_table(
        "duty_filing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False, index=True),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("duty_filing")
    op.drop_table("duty")
