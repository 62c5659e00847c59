"""The command line through Typer's runner: exit codes, one-line errors, --json, help."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from breachdesk.cli import app

runner = CliRunner()


def test_assess_summary_and_exit_code(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    result = runner.invoke(
        app, ["assess", str(export), "--directory", str(directory), "--out", str(tmp_path / "w")]
    )
    assert result.exit_code == 1, result.output
    assert "affected users" in result.output
    assert "report.html" in result.output
    for raw in ("alice@example.com", "Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu", "Alice Adams"):
        assert raw not in result.output


def test_assess_json(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, _ = small
    result = runner.invoke(app, ["assess", str(export), "--out", str(tmp_path / "w"), "--json"])
    impact = json.loads(result.stdout)
    assert impact["schema"] == "breachdesk.impact/1"
    assert impact["affected"] is None


def test_clean_export_exits_zero(tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text('{"event": "x", "properties": {"distinct_id": "u1", "time": 1}}\n')
    result = runner.invoke(app, ["assess", str(export), "--out", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output


def test_empty_export_is_a_valid_zero_result(tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text("")
    result = runner.invoke(app, ["assess", str(export), "--out", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"]["read"] == 0


def _one_line_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_bad_inputs_exit_two_with_one_line(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    missing = runner.invoke(app, ["assess", str(tmp_path / "nope"), "--out", str(tmp_path / "w")])
    assert missing.exit_code == 2
    assert "no such file or folder" in _one_line_error(missing.output)

    only_readme = tmp_path / "readme-only"
    only_readme.mkdir()
    (only_readme / "README.txt").write_text("hello\n")
    nothing = runner.invoke(app, ["assess", str(only_readme), "--out", str(tmp_path / "w")])
    assert nothing.exit_code == 2
    assert "no readable input" in _one_line_error(nothing.output)

    users = directory / "users.csv"
    users.write_text(users.read_text().replace("mfa_enabled", "mfa"))
    bad_dir = runner.invoke(
        app, ["assess", str(export), "--directory", str(directory), "--out", str(tmp_path / "w")]
    )
    assert bad_dir.exit_code == 2
    line = _one_line_error(bad_dir.output)
    assert "users.csv:1" in line and "mfa_enabled" in line


def test_duplicate_emails(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    users = directory / "users.csv"
    users.write_text(users.read_text() + "u12, Alice@Example.com ,Alias,en,US,true,active,,\n")
    args = ["assess", str(export), "--directory", str(directory), "--out", str(tmp_path / "w")]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    line = _one_line_error(refused.output)
    assert "u1, u12" in line and "alice@example.com" not in line.lower()
    allowed = runner.invoke(app, [*args, "--allow-duplicate-emails", "--json"])
    assert allowed.exit_code == 1
    users_csv = (tmp_path / "w" / "affected_users.csv").read_text()
    assert "\nu12," in users_csv and "\nu1," in users_csv


def test_help_lists_exit_codes() -> None:
    result = runner.invoke(app, ["assess", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output
    for command in ("assess", "demo"):
        text = runner.invoke(app, [command, "--help"]).output
        assert len(text.strip()) > 40


def _commands() -> list[list[str]]:
    import typer.main

    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(group: object, prefix: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            if getattr(command, "commands", None):
                walk(command, [*prefix, name])
            else:
                found.append([*prefix, name])

    walk(root, [])
    return found


def test_every_command_has_help_and_is_documented() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    commands = _commands()
    assert len(commands) >= 12
    for words in commands:
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, words
        summary = result.output.split("Usage:", 1)[1]
        assert len(summary.strip().splitlines()) > 3, words
        assert f"breachdesk {' '.join(words)}" in readme, (
            f"README lacks breachdesk {' '.join(words)}"
        )
