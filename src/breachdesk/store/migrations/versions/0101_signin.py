"""Sign-in throttling: attempts counted per account and per client, and refused sign-ins
counted per account and minute until the audit log receives them as one entry.

Revision ID: 0101_signin
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0101_signin"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_counter",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_at", sa.Float, nullable=False, server_default="0", index=True),
    )
    op.create_table(
        "signin_refusal",
        sa.Column("bucket", sa.String(64), primary_key=True),
        sa.Column("minute", sa.Integer, primary_key=True),
        sa.Column("refused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("throttled", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("signin_refusal")
    op.drop_table("signin_counter")
