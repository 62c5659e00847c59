"""Vendor reviews: date, reviewer, findings, decision and next review, per vendor.

Revision ID: 0104_vendor_reviews
Revises: 0102_duties
"""

import sqlalchemy as sa
from alembic import op

revision = "0104_vendor_reviews"
down_revision = "0102_duties"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_review",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("vendor", sa.String(100), nullable=False, index=True),
        sa.Column("reviewed_on", sa.Date, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("next_review", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vendor_review")
