"""The typed affected-users table written a batch at a time reads back as the whole table
typed at once: same rows, same order, same types."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.report.tables import USERS_SCHEMA, users_table, write_users_table

_TEXT = st.text(alphabet="abc;é-", max_size=6)
_ROW = st.tuples(
    st.text(min_size=1, max_size=5),
    st.sampled_from(["", "user.contact.email", "user.contact.email;user.identity.name"]),
    st.sampled_from(["", "org_1", "org_1;org_2"]),
    st.sampled_from(["", "true", "false"]),
    _TEXT,
)


def _engine_users(rows: list[tuple[str, str, str, str, str]]) -> pa.Table:
    """The engine's affected users: ``;``-joined texts, MFA as "", "true" or "false"."""
    ids, exposed, orgs, mfa, locale = ([row[i] for row in rows] for i in range(5))
    n = len(ids)
    return pa.table(
        {
            "user_id": ids, "exposed": exposed, "organizations": orgs, "mfa_enabled": mfa,
            "locale": locale, "country": ["DE"] * n, "country_source": ["directory"] * n,
            "region": [""] * n, "status": ["active"] * n,
        },
        schema=pa.schema([(name, pa.string()) for name in
                          ("user_id", "exposed", "organizations", "mfa_enabled", "locale",
                           "country", "country_source", "region", "status")]),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_ROW, max_size=40), batch=st.integers(1, 7))
def test_batches_read_back_as_the_whole_table(
    rows: list[tuple[str, str, str, str, str]], batch: int, tmp_path_factory: object
) -> None:
    folder = Path(tmp_path_factory.mktemp("users"))  # type: ignore[attr-defined]
    users = _engine_users(rows)
    path = folder / "affected_users.parquet"
    write_users_table(path, users, batch=batch)
    back = pq.read_table(path)
    assert back.schema.equals(USERS_SCHEMA)
    assert back.to_pylist() == users_table(users).to_pylist()
    assert (path.stat().st_mode & 0o777) == 0o600
