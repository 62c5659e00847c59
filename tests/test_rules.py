"""Detection rules: every rule file loads, every rule's own examples hold, and a table of
true and false positives per family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breachdesk.detect.rules import builtin_rule_files, default_rules, load_rule_text
from breachdesk.detect.scanner import Scanner
from breachdesk.errors import SettingsError

SCANNER = Scanner(default_rules(), b"k" * 32)
RULES = default_rules().rules


def _kinds(field: str, value: str | int) -> set[str]:
    return {h.rule for h in SCANNER.scan_value(field, value)}


def test_every_builtin_file_loads_every_rule() -> None:
    files = builtin_rule_files()
    assert files
    for name, text in files:
        declared = text.count("[[rule]]")
        assert len(load_rule_text(text, name)) == declared


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule: object) -> None:
    from breachdesk.detect.rules import Rule

    assert isinstance(rule, Rule)
    assert rule.true_positives, f"{rule.id} has no true-positive example"
    for sample in rule.true_positives:
        assert rule.id in _kinds("value", sample), sample
        assert rule.id in _kinds("note", f"seen in the logs: {sample} (twice)"), sample
        assert SCANNER.is_candidate(f'{{"note": "{sample}"}}'.encode()), sample
    for sample in rule.false_positives:
        assert rule.id not in _kinds("value", sample), sample


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("$current_url", "https://app.example.com/reset?token=Zx81LmQp2RtV9sKw3YhN7cBf", "url-secret-param"),
        ("$referrer", "https://admin:s3cr3t-Pa55@db.example.com/", "url-userinfo-password"),
        ("$current_url", "https://app.example.com/oauth/callback?code=4/0AfJohXk2Lq9", "url-oauth-code"),
        ("$current_url", "https://app.example.com/invite/Qm9vZ2xlLXN0eWxlLWludml0ZS10b2tlbi0xMjM0", "url-secret-path"),
        ("$current_url", "https://app.example.com/share?to=ann%40example.org", "url-email"),
        ("card_number", 4111111111111111, "payment-card"),
        ("note", "paid with card 4111111111111111 yesterday", "payment-card"),
        # no false "absent" (issue 11): passwords of ordinary length in URLs, cards in text
        ("$current_url", "https://app.example.com/login?user=ann&password=hunter22", "url-password-param"),
        ("$current_url", "https://app.example.com/login?passwd=abcd", "url-password-param"),
        ("$referrer", "https://app.example.com/unlock#pin=4821", "url-password-param"),
        ("$current_url", "https://app.example.com/s?pwd=Tr0ub4dor&x=1", "url-password-param"),
        ("$current_url", "https://app.example.com/s?PASS=letmein", "url-password-param"),
        ("$current_url", "https://app.example.com/s?secret=opensesame", "url-password-param"),
        ("search_query", "refund 4111111111111111 please", "payment-card"),
        ("search_query", "my number: 5555555555554444", "payment-card"),
        ("search_query", "amex 378282246310005 thanks", "payment-card"),
        ("search_query", "4111111111111111 is it charged", "payment-card"),
        ("paymentCardNumber", "4111111111111111", "payment-card"),
        ("user_ssn", "536221234", "us-ssn"),
        ("iban", "NO9386011117947", "iban"),
    ],
)  # fmt: skip
def test_true_positives(field: str, value: str | int, rule: str) -> None:
    assert rule in _kinds(field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("$current_url", "https://app.example.com/settings?token=true"),
        ("$current_url", "https://app.example.com/?utm_source=newsletter&utm_campaign=launch2026"),
        ("$current_url", "https://app.example.com/oauth/callback?code=ok"),
        ("$current_url", "https://app.example.com/invite/3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f"),
        ("time", 1732712345678),
        ("mp_processing_time_ms", 4111111111111111),
        ("$insert_id", "4111111111111111"),
        ("order_id", "1234567812345678"),
        ("note", "4111 1111 1111 1112"),
        ("$referrer", "https://www.google.com/"),
        ("query", "sk-proj-short"),
        ("$current_url", "https://app.example.com/p?sig=abc"),
        # placeholders and flags are not passwords
        ("$current_url", "https://app.example.com/login?password=xxxx"),
        ("$current_url", "https://app.example.com/login?password=****"),
        ("$current_url", "https://app.example.com/login?password=true"),
        ("$current_url", "https://app.example.com/login?password=abc"),
        ("$current_url", "https://app.example.com/login?pin=1111"),
        ("$current_url", "https://app.example.com/settings/password?tab=security"),
        # a whole-value digit string and a number still need a card-like field name
        ("order_id", "4111111111111111"),
        ("company_id", "4111111111111111"),
        ("mp_processing_time_ms", 4111111111111111),
        # digit patterns glued to letters or digits, inside hex or hyphenated ids
        ("note", "id a4111111111111111"),
        ("note", "ref-4111111111111111-x"),
        ("note", "trace 4111111111111111b7"),
        ("note", "ssn a536-22-1234"),
        ("note", "ssn 536-22-1234f"),
        ("note", "x-DE89370400440532013000"),
        ("$insert_id", "e4123fa692a0e1-4111111111111111-14b21401"),
    ],
)
def test_false_positives(field: str, value: str | int) -> None:
    assert _kinds(field, value) == set()


def test_jwt_detail_keeps_only_non_personal_claims() -> None:
    token = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJhbGljZUBleGFtcGxlLmNvbSIsImlzcyI6Imlzc3VlciIsImF1ZCI6ImFwcCIsImV4cCI6MTc2MDAwMDAwMCwiaWF0IjoxNzU5OTk5MDAwfQ."
        "c2lnbmF0dXJl"
    )
    hits = SCANNER.scan_value("$referrer", f"https://x.example/cb#id_token={token}")
    assert [h.rule for h in hits] == ["jwt"]
    assert hits[0].detail == {
        "alg": "HS256",
        "iss": "issuer",
        "aud": "app",
        "exp": 1760000000,
        "iat": 1759999000,
    }


def test_bad_rule_file_names_file_line_field(tmp_path: Path) -> None:
    text = '[[rule]]\nid = "x"\nkind = "api_key"\nkeywords = ["x"]\npattern = "("\n'
    with pytest.raises(SettingsError, match=r"rules\.toml:2: rule 'x', field pattern"):
        load_rule_text(text, "rules.toml")
    with pytest.raises(SettingsError, match="field kind"):
        load_rule_text(text.replace("api_key", "nope").replace('"("', '"x"'), "rules.toml")
    with pytest.raises(SettingsError, match="field validator"):
        load_rule_text(text.replace('"("', '"x"\nvalidator = "nope"'), "rules.toml")


def test_user_rule_file_loads_through_the_same_registry(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[rule]]\nid = "acme-key"\nkind = "api_key"\nkeywords = ["acme_"]\n'
        "pattern = 'acme_[a-z0-9]{24}'\n"
        'examples.true_positive = ["acme_0123456789abcdefghijklmn"]\n'
    )
    rules = default_rules([path])
    scanner = Scanner(rules, b"k" * 32)
    assert [h.rule for h in scanner.scan_value("x", "key acme_0123456789abcdefghijklmn")] == [
        "acme-key"
    ]
    with pytest.raises(SettingsError, match="defined twice"):
        default_rules([path, path])


def test_fingerprint_is_keyed() -> None:
    from breachdesk.taxonomy import FindingKind

    other = Scanner(default_rules(), b"j" * 32)
    a = SCANNER.fingerprint(FindingKind.CREDENTIAL, "secret-value")
    assert a == SCANNER.fingerprint(FindingKind.CREDENTIAL, "secret-value")
    assert a != other.fingerprint(FindingKind.CREDENTIAL, "secret-value")


def test_ordinary_events_are_rarely_candidates(tmp_path: Path) -> None:
    """The fast pass must stay fast: ordinary analytics events do not become candidates."""
    import random

    from breachdesk.demo.export import ExportWriter
    from breachdesk.demo.people import build_directory

    rng = random.Random(5)
    users, orgs = build_directory(rng, 300)
    writer = ExportWriter(rng, users, orgs)
    path = tmp_path / "events.jsonl"
    writer.write_events(path, users, 5000, [], lambda _: None, compress=False)
    data = path.read_bytes()
    candidates = SCANNER.triggers(data)
    # the generator plants 6 secrets and writes 8 malformed lines; besides those, only runs
    # of 13 digits inside hex device ids fire (the card rule's trigger), under 1% of lines
    assert len(candidates) <= 50, len(candidates)


def test_base64_wrapped_secret_is_found() -> None:
    import base64

    key = "sk-proj-Qx7Lm2Vn9Rt4Kp1Zs8Wd3Yb6Hc0Jf5GaT3BlbkFJu2Ne7Mq4Xr9Lt1Vk6Pz3Ws8Hd0Yc5Bf2Ja"
    for offset in range(3):
        wrapped = base64.b64encode(("x" * offset + f"key={key}").encode()).decode()
        record = f'{{"state": "{wrapped}"}}'.encode()
        assert SCANNER.is_candidate(record), offset
        hits = SCANNER.scan_value("state", wrapped)
        assert [h.rule for h in hits] == ["openai-api-key"], offset
        assert hits[0].detail == {"wrapped": "base64"}


def test_base64_image_is_not_a_finding() -> None:
    image = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    assert SCANNER.scan_value("avatar", image) == []


def test_rules_cli_reads_stdin_and_masks() -> None:
    from typer.testing import CliRunner

    from breachdesk.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["rules", "list", "--json"])
    assert listed.exit_code == 0
    ids = {r["id"] for r in json.loads(listed.stdout)}
    assert {"openai-api-key", "github-classic-token", "iban", "url-secret-param"} <= ids
    secret = "https://app.example.com/reset?reset_token=Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu"
    tested = runner.invoke(app, ["rules", "test", "--field", "$current_url"], input=secret + "\n")
    assert tested.exit_code == 1
    assert "url-secret-param" in tested.stdout
    assert "Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu" not in tested.stdout
    clean = runner.invoke(app, ["rules", "test"], input="just words\n")
    assert clean.exit_code == 0 and "no finding" in clean.stdout
