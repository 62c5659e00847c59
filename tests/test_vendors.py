"""The vendors commands on real files and the small incident: vendors.yaml errors naming
line and rule, undeclared fields and categories seen in a sample export, the blast radius
from the real assess pipeline and obligations rules, the kill switch (file, front end,
audit log, incident record), reviews in the store, and a relay killed with -9 that
delivers its spool after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.services import incident
from breachdesk.services.audit import verify_audit
from breachdesk.services.vendors import blast_radius, check, review_status
from helpers import open_ws, within
from relay_helpers import VENDORS, wait_for, write_vendors
from vendor_standin import StandIn, free_port

runner = CliRunner()


def _one_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("dpa: signed", "dpa: maybe"), ":9: vendors[0].dpa: 'maybe' is not one of"),
        (
            ("          plan: keep", "          plan: hash"),
            ":30: vendors[0].flows[0].fields.plan: 'hash' is not one of",
        ),
        (("last_review: 2026-06-01", "last_review: 2026-13-01"), ":12: vendors[0].last_review"),
        (
            ("    tier: 2\n    dpa: missing", "    tier: 5\n    dpa: missing"),
            ":38: vendors[1].tier",
        ),
        (("  - id: segment", "  - id: mixpanel"), ":34: vendors[1].id: 'mixpanel' is already"),
        (("protocol: segment", "protocol: kafka"), ":45: vendors[1].protocol"),
    ],
)
def test_invalid_vendors_yaml_names_line_and_rule(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    assert change[0] in path.read_text()
    path.write_text(path.read_text().replace(change[0], change[1], 1))
    result = runner.invoke(app, ["vendors", "check", str(path)])
    assert result.exit_code == 2
    line = _one_line(result.output)
    assert f"{path}{where}" in line and "(rule: " in line, line
    relay = runner.invoke(app, ["relay", "serve", str(path)])  # refused before it listens
    assert relay.exit_code == 2 and _one_line(relay.output) == line


def test_check_reports_what_a_sample_shows_undeclared(small: tuple[Path, Path],
                                                      tmp_path: Path) -> None:  # fmt: skip
    export, _ = small
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    report = check(path, [f"mixpanel={export}"])
    fields = {u.field: u.category for u in report.undeclared if u.vendor == "mixpanel"}
    assert fields["$email"] == "user.contact.email"
    assert fields["card_number"] == "user.financial.credit_card"
    assert ("mixpanel", "user.contact.email", str(export)) in {
        (c.vendor, c.category, c.source) for c in report.categories
    }
    assert "distinct_id" not in fields  # declared
    result = runner.invoke(app, ["vendors", "check", str(path), "--sample", str(export)])
    assert result.exit_code == 1  # the undeclared is reported, never silently accepted
    assert "undeclared category: mixpanel receives user.contact.email" in result.output
    clean = tmp_path / "clean.jsonl"
    clean.write_text('{"event": "x", "properties": {"distinct_id": "u1", "plan": "t"}}\n')
    assert check(path, [f"mixpanel={clean}"]).clean


def test_blast_radius_from_a_matched_sample(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    with open_ws(ws) as opened:
        report = blast_radius(path, directory, [f"mixpanel={export}"], what_if=True, ws=opened)
    by_id = {b.vendor: b for b in report.vendors}
    mixpanel = by_id["mixpanel"]
    impact = json.loads((ws / "impact.json").read_text())
    assert not mixpanel.upper_bound
    assert mixpanel.users == impact["affected"]["users"]  # the same matcher as assess
    assert mixpanel.organizations == impact["affected"]["organizations"]
    assert mixpanel.admins == impact["affected"]["admins_to_notify"]
    assert mixpanel.exposure.severity.level == "critical"  # a card number and a token leaked
    assert "user.financial.credit_card" in mixpanel.exposure.categories
    assert mixpanel.what_if is not None
    assert "user.financial.credit_card" not in mixpanel.what_if.categories
    assert "user.contact.email" not in mixpanel.what_if.categories
    assert {d.rule for d in mixpanel.exposure.duties} >= {"gdpr-art33"}
    zendesk = by_id["zendesk"]  # no sample: every active user, marked as an upper bound
    assert zendesk.upper_bound and zendesk.exposure.severity.level == "high"
    users = (directory / "users.csv").read_text().splitlines()[1:]
    assert zendesk.users == sum(1 for u in users if ",active" in u)
    assert report.vendors[0].vendor == "mixpanel"  # ranked worst first
    saved = json.loads((ws / "vendors" / "blast_radius.json").read_text())
    assert saved["schema"] == "breachdesk.blast-radius/1"
    # the same from an assess workspace made with the same directory
    again = blast_radius(path, directory, [f"mixpanel={ws}"])
    assert {b.vendor: b.users for b in again.vendors} == {b.vendor: b.users for b in report.vendors}
    result = runner.invoke(app, ["vendors", "blast-radius", str(path), "--directory",
                                 str(directory), "--sample", f"mixpanel={export}", "--what-if"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "critical" in result.output and "≤" in result.output
    assert "spear-phishing kit" in result.output or "phishing" in result.output


def test_cut_and_restore_with_the_incident(notify_ws: Path, tmp_path: Path) -> None:
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    result = runner.invoke(app, ["vendors", "cut", str(path), "mixpanel", "--why",
                                 "vendor breached", "--workspace", str(notify_ws), "--by", "rita"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "mixpanel cut off at" in result.output and "after the company became aware" in result.output
    )
    assert path.read_text() == VENDORS.format(upstream="http://127.0.0.1:9").replace(
        "status: active                     # active | cut",
        "status: cut                     # active | cut",
    )
    csp = (tmp_path / "frontend" / "csp.txt").read_text()
    assert "api-js.mixpanel.com" not in csp and "cdn.mxpnl.com" not in csp
    assert "script-src 'self' api.segment.io cdn.segment.com static.zdassets.com;" in csp
    sdks = json.loads((tmp_path / "frontend" / "sdks.json").read_text())
    assert [s["id"] for s in sdks] == ["segment", "zendesk"]
    view = within(notify_ws, incident.show)
    (cut,) = view.vendor_cuts
    assert cut.vendor == "mixpanel" and cut.by == "rita" and cut.why == "vendor breached"
    assert cut.after_awareness is not None and cut.after_awareness.total_seconds() > 0
    shown = runner.invoke(app, ["incident", "show", str(notify_ws)])
    words = " ".join(shown.output.replace("│", " ").split())  # the table wraps long cells
    assert "mixpanel cut" in words and "after the company became aware" in words
    summaries = [e.summary for e in within(notify_ws, incident.timeline) if e.kind == "vendor"]
    assert summaries == ["vendor mixpanel cut off: vendor breached"]
    again = runner.invoke(app, ["vendors", "cut", str(path), "mixpanel", "--why", "again"])
    assert "already cut off" in again.output  # re-run: nothing changes
    restored = runner.invoke(app, ["vendors", "restore", str(path), "mixpanel", "--why",
                                   "vendor fixed it", "--workspace", str(notify_ws)])  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert path.read_text() == VENDORS.format(upstream="http://127.0.0.1:9")
    assert within(notify_ws, incident.show).vendor_cuts == ()
    assert "api-js.mixpanel.com" in (tmp_path / "frontend" / "csp.txt").read_text()
    audit = runner.invoke(app, ["audit", "export", str(notify_ws)])
    assert audit.exit_code == 0, audit.output
    verified = runner.invoke(app, ["audit", "verify", str(notify_ws)])
    assert verified.exit_code == 0, verified.output  # the replayed decisions agree
    lines = [json.loads(x) for x in (notify_ws / "audit.jsonl").read_text().splitlines()]
    actions = [x["action"] for x in lines if "action" in x]
    assert actions.count("vendor.cut") == 1 and actions.count("vendor.restored") == 1
    bad = runner.invoke(app, ["vendors", "cut", str(path), "nobody", "--why", "x"])
    assert bad.exit_code == 2 and "no vendor 'nobody'" in bad.output


def test_reviews(notify_ws: Path, tmp_path: Path) -> None:
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    listing = runner.invoke(app, ["vendors", "review", str(path), "--workspace", str(notify_ws)])
    assert listing.exit_code == 1  # segment has no DPA, and reviews are overdue
    assert "OVERDUE" in listing.output and "missing" in listing.output
    result = runner.invoke(app, ["vendors", "review", str(path), "segment", "--workspace",
                                 str(notify_ws), "--reviewer", "dpo", "--findings",
                                 "DPA requested", "--decision", "conditions", "--on",
                                 "2026-11-30", "--next", "2099-01-01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with open_ws(notify_ws) as ws:
        status = {s.vendor: s for s in review_status(path, ws)}
    assert status["segment"].decision == "conditions" and not status["segment"].overdue
    assert "last_review: 2026-11-30" in path.read_text()
    assert "# active | cut" in path.read_text()  # comments kept
    bad = runner.invoke(app, ["vendors", "review", str(path), "segment", "--workspace",
                              str(notify_ws), "--reviewer", "x", "--findings", "y",
                              "--decision", "maybe"])  # fmt: skip
    assert bad.exit_code == 2
    with open_ws(notify_ws) as ws:  # the review agrees with its audit entry
        assert verify_audit(ws).ok
        with ws.store.engine.begin() as db:  # … until its row is edited behind breachdesk's back
            db.execute(text("UPDATE vendor_review SET decision = 'approve'"))
        assert [str(d) for d in verify_audit(ws).disagreements] == [
            "vendor_review 1: differs from the log"
        ]


def test_relay_killed_keeps_its_spool(tmp_path: Path) -> None:
    standin = StandIn()  # down
    path = write_vendors(tmp_path, standin.url)
    port = free_port()
    cmd = [sys.executable, "-m", "breachdesk", "relay", "serve", str(path), "--port", str(port)]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _up(port), timeout=30)
        return proc

    relay = start()
    try:
        event = {"event": "Sign In", "properties": {"token": "t", "distinct_id": "u1"}}
        body = b"data=" + json.dumps([event] * 10).encode()
        for _ in range(5):
            httpx.post(f"http://127.0.0.1:{port}/v/mixpanel/track/", content=body,
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        spool = tmp_path / "relay-state" / "spool" / "mixpanel"
        wait_for(lambda: sum(1 for _ in spool.glob("*.req")) >= 1, timeout=20)
        time.sleep(1)
    finally:
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait()
    assert not list(spool.glob(".*.tmp"))
    standin.start()
    relay = start()
    try:
        wait_for(lambda: len(standin.events()) >= 40, timeout=30)
    finally:
        relay.terminate()
        relay.wait(timeout=20)
        standin.stop()


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_dashboard_vendors_page(notify_ws: Path, small: tuple[Path, Path], tmp_path: Path) -> None:
    import re

    from fastapi.testclient import TestClient

    from breachdesk.services.users import add
    from breachdesk.services.vendors import cut
    from breachdesk.web.dashboard import create_app

    _, directory = small
    path = write_vendors(tmp_path, "http://127.0.0.1:9")
    with open_ws(notify_ws) as ws:
        add(ws, "vera", "correct horse battery", "viewer")
    client = TestClient(create_app(notify_ws), base_url="http://127.0.0.1")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    signed = client.post("/login", data={"username": "vera", "password": "correct horse battery",
                                         "csrf": token.group(1)}, follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303, signed.text
    before = client.get("/vendors")
    assert before.status_code == 200 and "no blast radius yet" in before.text
    with open_ws(notify_ws) as ws:
        blast_radius(path, directory, [], ws=ws)
        cut(path, "mixpanel", "vendor breached", "rita", ws)
    page = client.get("/vendors").text
    assert re.search(r'class="time-to-cut">\d+d \d+h \d+m after the company became aware', page)
    reviews = page.split('id="reviews"')[1].split("</table>")[0]
    assert "segment" in reviews and "missing" in reviews and "overdue" in reviews
    blast = page.split('id="blast"')[1].split("</table>")[0]
    assert blast.count("<tr class=") == 3 and "≤" in blast
    assert "alice" not in page.lower()  # counts only, no personal data
