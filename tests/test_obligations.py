"""Obligations: the rule files, deadline arithmetic as properties, and outcome tables for
three impact models checked by hand against the cited texts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from breachdesk.errors import SettingsError
from breachdesk.obligations.deadlines import add_business_days, add_days, add_hours
from breachdesk.obligations.evaluate import HumanDecision, PeopleGroup, evaluate
from breachdesk.obligations.rules import builtin_rules, parse_rule

RULES = builtin_rules()
AWARE = {"company": datetime(2026, 11, 24, 9, 0, tzinfo=UTC)}  # a Tuesday
BASE = "system.operations;user.account.organization_id;user.behavior.browsing_history;user.contact.email;user.device.user_agent;user.location.imprecise;user.name;user.unique_id"
PLACES = [("DE", ""), ("RO", ""), ("GB", ""), ("US", "US-CA"), ("US", "US-FL"), ("US", "US-TX"),
          ("US", "US-NY"), ("BR", ""), ("CA", ""), ("AU", ""), ("JP", ""), ("US", "US-CO"),
          ("US", "US-WA"), ("US", "US-IL"), ("US", "US-MA"), ("US", "US-NJ"), ("US", "US-VA"),
          ("US", "US-CT"), ("US", "US-OR")]  # fmt: skip
NEW_STATES = ["us-co-6-1-716", "us-wa-19-255", "us-il-815-530", "us-ma-93h", "us-nj-56-8-163",
              "us-va-18-2-186-6", "us-ct-36a-701b", "us-or-646a-604"]  # fmt: skip


def _groups(extra: str = "") -> Counter[PeopleGroup]:
    exposed = frozenset((BASE + (";" + extra if extra else "")).split(";"))
    return Counter({PeopleGroup(c, r, exposed): 600 for c, r in PLACES})


def _outcomes(groups: Counter[PeopleGroup], **kw: object) -> dict[str, str]:
    return {r.rule: r.outcome for r in evaluate(RULES, groups, AWARE, "Europe/Bucharest", **kw)}  # type: ignore[arg-type]


def test_every_regime_has_a_rule_with_citations() -> None:
    ids = {r.id for r in RULES}
    assert ids == {"gdpr-art33", "gdpr-art34", "uk-gdpr", "us-ca-1798-82", "us-fl-501-171",
                   "us-tx-521-053", "us-ny-gbl-899-aa", "ca-pipeda", "br-lgpd", "au-ndb",
                   "jp-appi-preliminary", "jp-appi-final", *NEW_STATES}  # fmt: skip
    assert all(r.citations for r in RULES)


def test_model_incident_names_and_emails() -> None:
    # GDPR-style regimes: personal data, the risk is for people to judge; US state laws do not
    # cover name + email
    assert _outcomes(_groups()) == {
        "gdpr-art33": "likely", "gdpr-art34": "likely", "uk-gdpr": "likely",
        "us-ca-1798-82": "not_required", "us-fl-501-171": "not_required",
        "us-tx-521-053": "not_required", "us-ny-gbl-899-aa": "not_required",
        "ca-pipeda": "likely", "br-lgpd": "likely", "au-ndb": "likely",
        # 600 people in Japan: no more than 1,000, no payment data: whether an attack (a
        # wrongful purpose) caused it is for people
        "jp-appi-preliminary": "likely", "jp-appi-final": "likely",
        **dict.fromkeys(NEW_STATES, "not_required"),
    }  # fmt: skip


def test_model_incident_plus_reset_tokens() -> None:
    # email + password (a credential) is personal information in CA, FL and NY, not in TX
    assert _outcomes(_groups("user.authorization.credentials")) == {
        "gdpr-art33": "required", "gdpr-art34": "required", "uk-gdpr": "required",
        "us-ca-1798-82": "required", "us-fl-501-171": "required",
        "us-tx-521-053": "not_required", "us-ny-gbl-899-aa": "required",
        "ca-pipeda": "required", "br-lgpd": "required", "au-ndb": "required",
        "jp-appi-preliminary": "likely", "jp-appi-final": "likely",  # a password is no payment
        # email + password is personal information in CO, WA, IL, NJ, CT, OR; not in MA, VA
        "us-co-6-1-716": "required", "us-wa-19-255": "required", "us-il-815-530": "required",
        "us-ma-93h": "not_required", "us-nj-56-8-163": "required",
        "us-va-18-2-186-6": "not_required", "us-ct-36a-701b": "required",
        "us-or-646a-604": "required",
    }  # fmt: skip


def test_model_incident_plus_payment_cards() -> None:
    outcomes = _outcomes(_groups("user.financial.credit_card"))
    assert set(outcomes.values()) == {"required"}  # name + card number is covered everywhere


def test_deadlines_and_thresholds() -> None:
    results = {
        r.rule: r
        for r in evaluate(
            RULES, _groups("user.authorization.credentials"), AWARE, "Europe/Bucharest"
        )
    }
    assert results["gdpr-art33"].deadline_utc == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert results["gdpr-art33"].deadline_local == "2026-11-27 11:00 EET"
    assert results["br-lgpd"].deadline_utc == datetime(
        2026, 11, 27, 9, 0, tzinfo=UTC
    )  # Wed, Thu, Fri
    assert results["us-fl-501-171"].deadline_utc == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    assert results["gdpr-art34"].deadline_utc is None  # without undue delay
    assert results["us-fl-501-171"].also  # 600 >= 500 residents: the Department of Legal Affairs
    assert results["us-ca-1798-82"].also  # more than 500: a sample copy to the Attorney General
    assert not results["us-ny-gbl-899-aa"].also  # the credit agencies only above 5,000
    # several thresholds per state: 600 residents reach the first, not the 1,000 one
    assert (
        len(results["us-co-6-1-716"].also) == 1
        and "Attorney General" in results["us-co-6-1-716"].also[0]
    )
    assert (
        len(results["us-nj-56-8-163"].also) == 1
        and "State Police" in results["us-nj-56-8-163"].also[0]
    )
    assert results["us-or-646a-604"].deadline_utc == datetime(
        2027, 1, 8, 9, 0, tzinfo=UTC
    )  # 45 days
    assert results["us-ct-36a-701b"].deadline_utc == datetime(
        2027, 1, 23, 9, 0, tzinfo=UTC
    )  # 60 days
    assert results["jp-appi-preliminary"].deadline_kind == "days"


def test_nothing_to_decide_never_crashes() -> None:
    assert set(_outcomes(Counter())) == {r.id for r in RULES}
    assert set(_outcomes(Counter()).values()) == {"not_required"}
    unplaced = Counter({PeopleGroup("US", "", frozenset([*BASE.split(";"), "user.authorization.credentials"])): 40,
                        PeopleGroup("", "", frozenset(BASE.split(";"))): 7})  # fmt: skip
    results = {r.rule: r for r in evaluate(RULES, unplaced, {}, "UTC")}
    assert results["us-ca-1798-82"].outcome == "cannot_tell"
    assert "40 affected people in US have no region" in results["us-ca-1798-82"].undecided[0]
    assert any(
        "7 affected people have no known country" in u for u in results["gdpr-art33"].undecided
    )
    no_clock = {r.rule: r for r in evaluate(RULES, _groups(), {}, "UTC")}
    assert "no awareness time recorded" in no_clock["gdpr-art33"].undecided[0]


def test_a_recorded_decision_overrides() -> None:
    decision = HumanDecision("not_required", "EDPB: low risk, no contact data beyond email", "dpo")
    results = {
        r.rule: r for r in evaluate(RULES, _groups(), AWARE, "UTC", {"gdpr-art34": decision})
    }
    assert results["gdpr-art34"].outcome == "not_required"
    assert "decided by dpo" in results["gdpr-art34"].reason


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(0, 400))  # fmt: skip
def test_hours_run_on_the_clock(start: datetime, hours: int) -> None:
    assert add_hours(start, hours) - start == timedelta(hours=hours)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(0, 60), st.sampled_from(["Europe/Bucharest", "America/New_York", "Australia/Sydney", "UTC"]))  # fmt: skip
def test_days_keep_the_local_hour_across_dst(start: datetime, days: int, zone: str) -> None:
    due = add_days(start, days, zone)
    local_start, local_due = start.astimezone(ZoneInfo(zone)), due.astimezone(ZoneInfo(zone))
    assert (local_due.date() - local_start.date()).days == days
    # the same wall-clock hour unless that hour does not exist on the day (a DST gap)
    assert (
        abs(local_due.hour * 60 + local_due.minute - local_start.hour * 60 - local_start.minute)
        <= 60
    )


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(1, 30), st.sampled_from(["America/Sao_Paulo", "Europe/Bucharest", "UTC"]))  # fmt: skip
def test_business_days_skip_weekends(start: datetime, days: int, zone: str) -> None:
    due = add_business_days(start, days, zone).astimezone(ZoneInfo(zone))
    local = start.astimezone(ZoneInfo(zone))
    assert due.weekday() < 5
    counted = sum(1 for i in range(1, (due.date() - local.date()).days + 1)
                  if (local.date() + timedelta(days=i)).weekday() < 5)  # fmt: skip
    assert counted == days


def test_a_bad_rule_file_names_file_line_and_field() -> None:
    text = (
        Path(__file__).parents[1] / "src/breachdesk/obligations/rules/us-ca-1798-82.yaml"
    ).read_text()
    with pytest.raises(SettingsError, match=r"x\.yaml:8: field triggers\.0\.1"):
        parse_rule(text.replace("user.government_id]", "user.passport]", 1), "x.yaml")
    with pytest.raises(SettingsError, match=r"x\.yaml:\d+: field citations"):
        parse_rule(text.replace("citations:", "citations: []\nold_citations:"), "x.yaml")
    with pytest.raises(SettingsError, match=r"x\.yaml:12: field default"):
        parse_rule(text.replace("default: required", "default: maybe"), "x.yaml")


def test_obligations_command(small: tuple[Path, Path], tmp_path: Path) -> None:
    from breachdesk import AssessRequest, assess
    from breachdesk.cli import app

    export, directory = small
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    runner = CliRunner()
    assert (
        runner.invoke(
            app,
            ["incident", "set", str(tmp_path / "ws"), "--aware", "company=2026-11-24T09:00:00Z"],
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["obligations", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "Not legal advice" in result.stdout and "gdpr-art33" in result.stdout
