"""The language a measure is written in: empty for the company's own words (stated in every
notice without a text of its own language), or a notice language (``de``, ``ja``, ``ro``,
``en``) whose notices state it instead.

Revision ID: 0105_measure_language
Revises: 0103_identity
"""

import sqlalchemy as sa
from alembic import op

revision = "0105_measure_language"
down_revision = "0103_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_event") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("timeline_event") as batch:
        batch.drop_column("language")
