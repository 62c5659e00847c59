"""Every instant stored one way (fixed-width ISO 8601 UTC text), and the audit log's scheme
column (entries written before are plain SHA-256; new ones are keyed).

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# table -> (key column, instant columns, columns that held epoch seconds as floats)
_TABLES = {
    "incident": ("id", ["created_at", "dataset_arrived_at"], []),
    "awareness": ("id", ["aware_at"], []),
    "timeline_event": ("id", ["occurred_at"], []),
    "task": ("id", ["due_at", "created_at", "closed_at"], []),
    "decision": ("id", ["decided_at"], []),
    "notice": ("id", ["created_at", "sent_at", "not_before", "lease_until"],
               ["not_before", "lease_until"]),
    "delivery_attempt": ("id", ["attempted_at"], []),
}  # fmt: skip
_NULLABLE = {"dataset_arrived_at", "due_at", "closed_at", "sent_at"}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        when = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            when = datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            when = datetime.fromisoformat(text.replace(" ", "T", 1))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(
            sa.Column("scheme", sa.String(20), nullable=False, server_default="sha256")
        )
    for table, (key, columns, floats) in _TABLES.items():
        # names from the table above, never from data
        select = f"SELECT {key}, {', '.join(columns)} FROM {table}"  # noqa: S608
        rows = connection.execute(sa.text(select))
        values = [(row[0], [_text(v) for v in row[1:]]) for row in rows]
        with op.batch_alter_table(table) as batch:
            if table == "notice":
                batch.drop_index("ix_notice_status_due")
            for column in columns:
                batch.add_column(sa.Column(f"{column}__new", sa.String(32), nullable=True))
        names = ", ".join(f"{c}__new = :{c}" for c in columns)
        for ident, converted in values:
            connection.execute(
                sa.text(f"UPDATE {table} SET {names} WHERE {key} = :ident"),  # noqa: S608
                {"ident": ident, **dict(zip(columns, converted, strict=True))},
            )
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
            for column in columns:
                batch.alter_column(f"{column}__new", new_column_name=column)
        with op.batch_alter_table(table) as batch:
            for column in columns:
                if column in _NULLABLE:
                    continue
                # a float "0" meant "not set": now the epoch, never empty
                default = "1970-01-01T00:00:00.000000Z" if column in floats else None
                batch.alter_column(
                    column, existing_type=sa.String(32), nullable=False, server_default=default
                )
            if table == "notice":
                batch.create_index("ix_notice_status_due", ["status", "not_before"])


def downgrade() -> None:
    raise NotImplementedError("0006 is not reversible: restore the store from a backup")
