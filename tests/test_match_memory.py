"""A match that does not fit in the engine's bounded memory is started again with more,
and gives the same result as one that fitted: a long scan never ends in an internal error
for want of a few megabytes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from breachdesk.directory import load_directory
from breachdesk.domain.identity import Token, TokenKind
from breachdesk.engine.match import CATEGORY_BITS, DIRECTORY_TABLES, MATCH_TABLES, match_impact
from breachdesk.engine.tables import DuckDBEngine, SignatureRow
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
        engine.con.execute("SET memory_limit = '1MB'")
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
