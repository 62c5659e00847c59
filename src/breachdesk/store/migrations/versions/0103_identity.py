"""The company's identity and the facts of the incident that notices state, as incident
details: company, controller, DPO, contact address, verify URL; the vendor's incident window
and whether the company's own systems were breached; timeline events marked as measures.

Revision ID: 0103_identity
Revises: 0104_vendor_reviews
"""

import sqlalchemy as sa
from alembic import op

revision = "0103_identity"
down_revision = "0104_vendor_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("company", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("controller", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("dpo", sa.Text, nullable=False, server_default=""))
        batch.add_column(
            sa.Column("contact_email", sa.String(320), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("verify_url", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("vendor_incident_start", sa.String(32), nullable=True))
        batch.add_column(sa.Column("vendor_incident_end", sa.String(32), nullable=True))
        # NULL: not recorded; a notice says "our own systems were not breached" only on false
        batch.add_column(sa.Column("own_systems_breached", sa.Boolean, nullable=True))
    with op.batch_alter_table("timeline_event") as batch:
        batch.add_column(
            sa.Column("measure", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline_event") as batch:
        batch.drop_column("measure")
    with op.batch_alter_table("incident") as batch:
        for column in ("own_systems_breached", "vendor_incident_end", "vendor_incident_start",
                       "verify_url", "contact_email", "dpo", "controller", "company"):  # fmt: skip
            batch.drop_column(column)
