"""A match that does not fit in the engine's bounded memory is started again with more,
and gives the same result as one that fitted: a long scan never ends in an internal error
for want of a few megabytes."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest

from breachdesk.directory import load_directory
from breachdesk.domain.identity import Token, TokenKind
from breachdesk.engine.aggregate import encode_signature
from breachdesk.engine.match import CATEGORY_BITS, DIRECTORY_TABLES, MATCH_TABLES, match_impact
from breachdesk.engine.tables import PAIRS_SCHEMA, DuckDBEngine, SignatureRow, pairs_to_ipc
from breachdesk.taxonomy import Category

USERS = 40_000


def _directory(folder: Path) -> Path:
    folder.mkdir()
    lines = ["user_id,email,name,locale,country,mfa_enabled,status"]
    lines += [f"{i},user{i}@example.org,User {i},en,DE,{i % 2 == 0},active" for i in range(USERS)]
    (folder / "users.csv").write_text("\n".join(lines) + "\n")
    (folder / "organizations.csv").write_text(
        "org_id,name\n" + "".join(f"o{k},Org {k}\n" for k in range(100))
    )
    (folder / "memberships.csv").write_text(
        "user_id,org_id,role\n" + "".join(f"{i},o{i % 100},member\n" for i in range(USERS))
    )
    return folder


def _rows() -> list[SignatureRow]:
    mask = CATEGORY_BITS[Category.EMAIL]
    return [
        SignatureRow(
            (Token(TokenKind.EMAIL, f"user{i}@example.org"), Token(TokenKind.USER_ID, str(i))),
            1,
            mask,
            "",
        )
        for i in range(0, USERS, 2)
    ]


def test_a_match_short_of_memory_is_tried_again_with_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = load_directory(_directory(tmp_path / "directory"))
    rows = _rows()
    expected = match_impact(rows, set(), directory)
    engine = DuckDBEngine(tmp_path / "spill", memory_limit="1MB")
    try:
        engine.load_rows(rows)
        engine.hold_directory(directory)
        directory.release()  # as assess does: the match reads the engine's copy only
        engine.set_memory_limit("1MB")
        with caplog.at_level(logging.WARNING, logger="breachdesk.assess"):
            got = engine.match(set(), [])
        assert "needs more memory than 1MB" in caplog.text
        assert engine.working_limit != "1MB"
    finally:
        engine.close()
    assert got.users.num_rows == USERS // 2
    assert got.users.to_pylist() == expected.users.to_pylist()
    assert got.organizations == expected.organizations


def test_every_temporary_table_of_a_match_is_known() -> None:
    import inspect
    import re

    from breachdesk.engine import match

    created = set(re.findall(r"CREATE TEMP TABLE (\w+)", inspect.getsource(match)))
    # a retry drops the match's own tables and keeps the directory's
    assert created == set(MATCH_TABLES) | set(DIRECTORY_TABLES)
    assert not set(MATCH_TABLES) & set(DIRECTORY_TABLES)


def _grouped(engine: DuckDBEngine) -> tuple[list[tuple[object, ...]], ...]:
    return tuple(
        engine.con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()  # noqa: S608
        for name in ("sig", "tok", "dev")
    )


def test_a_grouping_short_of_memory_is_tried_again_with_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signatures = [
        encode_signature((Token(TokenKind.DEVICE_ID, f"d{i}"), Token(TokenKind.USER_ID, str(i))))
        for i in range(USERS)
    ]
    pairs = pa.table(
        {
            "signature": signatures * 2,  # each signature in two units' pairs
            "shape": [0, 1] * USERS,
            "records": [1] * (2 * USERS),
            "country": ["DE", ""] * USERS,
            "personal": [True] * (2 * USERS),
        },
        schema=PAIRS_SCHEMA,
    )
    results = []
    for limit in ("160MB", "1MB"):
        engine = DuckDBEngine(tmp_path / limit, memory_limit=limit)
        try:
            engine.add_pairs(pairs_to_ipc(pairs), [0, 1])
            with caplog.at_level(logging.WARNING, logger="breachdesk.assess"):
                assert engine.finish([1, 2], {}) == USERS
            results.append(_grouped(engine))
        finally:
            engine.close()
    assert "grouping needs more memory than 1MB" in caplog.text
    assert results[0] == results[1]
    assert len(results[0][1]) == len(results[0][2]) == USERS  # one user id, one device each


def test_holding_a_directory_short_of_memory_leaves_the_ingest_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = load_directory(_directory(tmp_path / "directory"))
    engine = DuckDBEngine(tmp_path / "spill", memory_limit="160MB", ingest_limit="1MB")
    try:
        with caplog.at_level(logging.WARNING, logger="breachdesk.assess"):
            engine.hold_directory(directory)
        assert "holding the directory needs more memory than 1MB" in caplog.text
        # the pairs stream in at the ingest limit again, the grouping gets its own
        assert (engine.limit, engine.working_limit) == ("1MB", "160MB")
        setting = engine.con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert setting == [("976.5 KiB",)]
        rows = engine.con.execute("SELECT count(*) FROM d_users").fetchall()
        assert rows == [(USERS,)]
    finally:
        engine.close()
