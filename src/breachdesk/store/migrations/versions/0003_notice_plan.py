"""The notification plan: one row per notice, idempotent on (kind, user_id, org_id).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("org_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("locale", sa.String(35), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("hold_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("facts", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("kind", "user_id", "org_id"),
    )


def downgrade() -> None:
    op.drop_table("notice")
