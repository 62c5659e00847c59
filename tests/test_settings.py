"""Settings: the workspace's breachdesk.toml extends identity keys; bad settings are named."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from breachdesk import AssessRequest, SettingsError, assess, load_settings


def test_identity_keys_from_the_workspace_settings(tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text(
        json.dumps({"event": "x", "properties": {"account_uuid": "u1", "tenant": "o1"}}) + "\n"
    )
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "users.csv").write_text(
        "user_id,email,name,locale,country,mfa_enabled,status\nu1,a@x.org,A,en,US,true,active\n"
    )
    (directory / "organizations.csv").write_text("org_id,name\no1,One\no2,Two\n")
    (directory / "memberships.csv").write_text("user_id,org_id,role\nu2,o2,owner\n")
    ws = tmp_path / "ws"
    first = assess(AssessRequest([export], ws, directory=directory, workers=1))
    assert first.impact["affected"]["users"] == 0
    settings = (ws / "breachdesk.toml").read_text()
    settings = settings.replace(
        "[identity_keys]\nuser_ids = []", '[identity_keys]\nuser_ids = ["account_uuid"]'
    )
    settings = settings.replace("org_keys = []", 'org_keys = ["tenant"]')
    (ws / "breachdesk.toml").write_text(settings)
    second = assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    assert second.impact["affected"]["users"] == 1
    assert second.impact["affected"]["organizations"] == 1


def test_bad_setting_is_named(tmp_path: Path) -> None:
    (tmp_path / "breachdesk.toml").write_text("max_record_bytes = -1\n")
    with pytest.raises(SettingsError, match="max_record_bytes"):
        load_settings(tmp_path)
    (tmp_path / "breachdesk.toml").write_text("max_record_bytes = [\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(tmp_path)


def test_reveal_adds_raw_identities(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, reveal=True, workers=1))
    text = (tmp_path / "ws" / "unmatched.csv").read_text()
    assert text.splitlines()[0].endswith(",identity")
    assert "ghost@nowhere.example" in text


def test_user_rule_file_named_in_settings(tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text(
        json.dumps(
            {
                "event": "x",
                "properties": {"distinct_id": "u1", "note": "acme_0123456789abcdefghijklmn"},
            }
        )
        + "\n"
    )
    ws = tmp_path / "ws"
    assert assess(AssessRequest([export], ws, workers=1)).exit_code == 0
    (ws / "acme.toml").write_text(
        '[[rule]]\nid = "acme-key"\nkind = "api_key"\nkeywords = ["acme_"]\n'
        "pattern = 'acme_[a-z0-9]{24}'\n"
        'examples.true_positive = ["acme_0123456789abcdefghijklmn"]\n'
    )
    settings = (
        (ws / "breachdesk.toml")
        .read_text()
        .replace("rule_files = []", 'rule_files = ["acme.toml"]')
    )
    (ws / "breachdesk.toml").write_text(settings)
    result = assess(AssessRequest([export], ws, workers=1, replace=True))
    assert result.exit_code == 1
    assert result.impact["provenance"]["rules_version"].startswith("custom-")
    assert "acme-key" in (ws / "findings.csv").read_text()


def test_impact_schema_is_checked(small: tuple[Path, Path], tmp_path: Path) -> None:
    from breachdesk import IMPACT_SCHEMA, SchemaError, read_impact

    export, _ = small
    assess(AssessRequest([export], tmp_path / "ws", workers=1))
    path = tmp_path / "ws" / "impact.json"
    assert read_impact(path)["schema"] == IMPACT_SCHEMA
    path.write_text(path.read_text().replace(IMPACT_SCHEMA, "breachdesk.impact/9"))
    with pytest.raises(
        SchemaError, match=r"'breachdesk.impact/9' is not the known 'breachdesk.impact/1'"
    ):
        read_impact(path)


def test_engine_memory_from_the_settings(
    small: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from breachdesk.engine.tables import DuckDBEngine
    from breachdesk.services import assess as service

    limits: list[str] = []

    class Recorded(DuckDBEngine):  # the real engine, its limit noted
        def finish(self, shape_masks: Sequence[int], finding_masks: dict[str, int]) -> int:
            found = super().finish(shape_masks, finding_masks)
            limits.append(
                self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            )
            return found

    monkeypatch.setattr(service, "DuckDBEngine", Recorded)
    export, directory = small
    monkeypatch.setenv("BREACHDESK_ENGINE_MEMORY_MB", "48")
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    assert "engine_memory_mb = 48" in (tmp_path / "ws" / "breachdesk.toml").read_text()
    monkeypatch.delenv("BREACHDESK_ENGINE_MEMORY_MB")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "breachdesk.toml").write_text("engine_memory_mb = 8\n")
    with pytest.raises(SettingsError, match="engine_memory_mb"):
        load_settings(tmp_path / "bad")
    assess(AssessRequest([export], tmp_path / "ws2", directory=directory, workers=1))
    assert limits == ["45.7 MiB", "152.5 MiB"]  # 48 MB and 160 MB, as DuckDB says them
