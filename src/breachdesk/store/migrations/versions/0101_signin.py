"""Sign-in throttling: attempts counted per account and per client, and refused sign-ins
counted per account and minute until the audit log receives them as one entry. The desk's
users and sessions keep their times as instants too (like 0006), and lose the columns of the
old lockout.

Revision ID: 0101_signin
Revises: 0006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0101_signin"
down_revision = "0006"
branch_labels = None
depends_on = None


EPOCH = "1970-01-01T00:00:00.000000Z"


def _text(value: object) -> str:
    if isinstance(value, int | float):
        when = datetime.fromtimestamp(float(value), UTC)
    else:
        when = datetime.fromisoformat(str(value))
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def upgrade() -> None:
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, created_at FROM desk_user")).all()
    with op.batch_alter_table("desk_user") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")
        batch.alter_column("created_at", existing_type=sa.String(40), type_=sa.String(32))
    for ident, created in users:
        connection.execute(
            sa.text("UPDATE desk_user SET created_at = :at WHERE id = :id"),
            {"at": _text(created), "id": ident},
        )
    # sessions are short-lived: those open when the store is upgraded end (sign in again)
    op.drop_table("desk_session")
    op.create_table(
        "desk_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_seen", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "signin_counter",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_at", sa.String(32), nullable=False, server_default=EPOCH, index=True),
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
