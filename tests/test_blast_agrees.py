"""The blast radius and ``breachdesk obligations`` agree, regime by regime, on the same
people and categories: the demo's situation (name, email and location for everyone, users in
US states, Brazil, Australia and Canada, a credential found in one Brazilian user's event)
assessed for real, then both evaluated. A credential whose people are unknown is stated as a
condition, never as a duty of everyone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.services.obligations import obligations
from breachdesk.services.vendors import blast_radius, check
from helpers import open_ws
from relay_helpers import write_vendors

runner = CliRunner()
PLACES = [("US", "US-CA"), ("US", "US-NY"), ("US", "US-CO"), ("US", "US-WA"), ("BR", ""),
          ("AU", ""), ("CA", "")]  # fmt: skip
CREDENTIAL = "Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu"
US_STATES = ("us-ca-1798-82", "us-co-6-1-716", "us-ny-gbl-899-aa", "us-wa-19-255")


def _incident(root: Path) -> tuple[Path, Path]:
    """Three users per place; profiles with name, email and city; one page view each; a
    password-reset token in the URL of one Brazilian user's event only."""
    export, directory = root / "export", root / "directory"
    export.mkdir()
    directory.mkdir()
    users, people, events = ["user_id,email,name,locale,country,mfa_enabled,status,region,"
                             "other_emails"], [], []  # fmt: skip
    members = ["user_id,org_id,role"]
    n = 0
    for country, region in PLACES:
        for _ in range(3):
            n += 1
            uid, email, name = f"u{n}", f"person{n}@example.com", f"Person Number{n}"
            users.append(f"{uid},{email},{name},en_US,{country},true,active,{region},")
            members.append(f"{uid},o1,{'owner' if n == 1 else 'member'}")
            props = {"$email": email, "$name": name, "$city": "Springfield"}
            people.append({"$distinct_id": uid, "$properties": props})
            url = "https://app.example.com/dashboard"
            if country == "BR" and not any("reset" in e["properties"]["$current_url"]
                                           for e in events):  # fmt: skip
                url = f"https://app.example.com/reset-password?reset_token={CREDENTIAL}"
            events.append({"event": "Page View", "properties": {
                "time": 1700000000 + n, "distinct_id": uid, "$current_url": url,
                "$city": "Springfield"}})  # fmt: skip
    (directory / "users.csv").write_text("\n".join(users) + "\n")
    (directory / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (directory / "memberships.csv").write_text("\n".join(members) + "\n")
    (export / "people.jsonl").write_text("".join(json.dumps(p) + "\n" for p in people))
    (export / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return export, directory


def test_blast_radius_and_obligations_give_the_same_outcome_per_regime(tmp_path: Path) -> None:
    export, directory = _incident(tmp_path)
    inventory = write_vendors(tmp_path, "http://127.0.0.1:9")
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    with open_ws(ws) as opened:
        said = {r.rule: r.outcome for r in obligations(opened).results}
        exposed = {e for u in _users(opened) for e in u}
    assert {"user.contact.email", "user.name", "user.authorization.credentials"} <= exposed
    # the situation the demo showed: email for everyone, a credential for one Brazilian user
    assert said["br-lgpd"] == "required"
    assert all(said[r] == "not_required" for r in US_STATES), said
    assert said["au-ndb"] == "likely" and said["ca-pipeda"] == "likely"
    for sample in (f"mixpanel={export}", f"mixpanel={ws}"):
        report = blast_radius(inventory, directory, [sample])
        mixpanel = next(b for b in report.vendors if b.vendor == "mixpanel")
        assert not mixpanel.upper_bound and mixpanel.users == 21
        assert "user.authorization.credentials" in mixpanel.exposure.categories
        assert dict(mixpanel.exposure.outcomes) == said  # every regime, the same word
        duties = {d.rule: d.outcome for d in mixpanel.exposure.duties}
        assert duties == {r: o for r, o in said.items() if o in ("required", "likely")}
        assert not mixpanel.exposure.conditional
    result = runner.invoke(app, ["vendors", "blast-radius", str(inventory), "--directory",
                                 str(directory), "--sample", f"mixpanel={ws}"])  # fmt: skip
    assert result.exit_code == 0, result.output
    required = next(line for line in result.output.splitlines() if "required:" in line)
    assert "br-lgpd" in required and "au-ndb" not in required
    assert not any(r in required for r in US_STATES)
    assert CREDENTIAL not in result.output and "person1@example.com" not in result.output


def test_a_credential_whose_people_are_unknown_is_a_condition(tmp_path: Path) -> None:
    """A workspace assessed without the directory: no one is matched, so every active user is
    counted (upper bound) with what flows to the vendor; the one credential found would make
    the US states' duties required only if it concerned them, and says so."""
    export, directory = _incident(tmp_path)
    inventory = write_vendors(tmp_path, "http://127.0.0.1:9")
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, workers=1))
    report = blast_radius(inventory, directory, [f"mixpanel={ws}"])
    mixpanel = next(b for b in report.vendors if b.vendor == "mixpanel")
    assert mixpanel.upper_bound and mixpanel.users == 21
    outcomes = dict(mixpanel.exposure.outcomes)
    assert all(outcomes[r] == "not_required" for r in US_STATES), outcomes
    assert outcomes["br-lgpd"] == outcomes["au-ndb"] == "likely"
    assert mixpanel.exposure.severity.level == "critical"  # the vendor does hold a credential
    conditional = {d.rule: d for d in mixpanel.exposure.conditional}
    for rule in (*US_STATES, "br-lgpd", "au-ndb", "ca-pipeda"):
        assert conditional[rule].outcome == "required"
        assert conditional[rule].condition == (
            "if the user.authorization.credentials found concern them"
        )
    result = runner.invoke(app, ["vendors", "blast-radius", str(inventory), "--directory",
                                 str(directory), "--sample", f"mixpanel={ws}"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not any("required:" in line and "us-ca-1798-82" in line for line in lines)
    hinge = next(line for line in lines if "would be required if" in line)
    assert "us-ca-1798-82" in hinge and "user.authorization.credentials" in hinge


def _users(ws: object) -> list[tuple[str, ...]]:
    from breachdesk.report.tables import affected_users

    return [u.exposed for u in affected_users(ws.outputs)]  # type: ignore[attr-defined]


def test_check_counts_each_field_and_names_where_a_credential_was_found(tmp_path: Path) -> None:
    """``vendors check`` on a sample: ``times`` is the number of records holding the field,
    and an undeclared category found inside declared fields (a token in a URL the relay
    would strip) names those fields and how many values were found in each."""
    export = tmp_path / "export"
    export.mkdir()
    rows = []
    for i in range(5):
        url = "https://app.example.com/dashboard"
        if i < 2:
            url = f"https://app.example.com/reset-password?reset_token={CREDENTIAL[i:]}{i}"
        props = {"distinct_id": f"u{i}", "$current_url": url, "$referrer": "$direct"}
        if i < 3:
            props["$email"] = f"person{i}@example.com"
        if i == 4:
            props["$referrer"] = f"https://app.example.com/login?access_token={CREDENTIAL}"
        rows.append({"event": "Page View", "properties": props})
    (export / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    inventory = write_vendors(tmp_path, "http://127.0.0.1:9")
    report = check(inventory, [f"mixpanel={export}"])
    times = {u.field: u.seen for u in report.undeclared if u.vendor == "mixpanel"}
    assert times == {"$email": 3}  # $current_url and $referrer are declared (strip_query)
    where = {c.category: c.fields for c in report.categories}
    assert where["user.authorization.credentials"] == (
        ("$current_url", 2, "found"),
        ("$referrer", 1, "found"),
    )
    assert where["user.contact.email"] == (("$email", 3, "records"),)
    result = runner.invoke(app, ["vendors", "check", str(inventory), "--sample",
                                 f"mixpanel={export}"])  # fmt: skip
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if "$email" in line and "│" in line)
    assert row.rstrip("│ ").endswith("3")  # the times column is filled
    assert (
        "undeclared category: mixpanel receives user.authorization.credentials in "
        "$current_url (2 found), $referrer (1 found)"
    ) in result.output
    assert CREDENTIAL not in result.output and "person0@example.com" not in result.output
