"""The dashboard's "what needs doing now" through HTTP: duties moved by form (and refused to a
viewer, or without the CSRF token), the change visible on every page at once, tasks edited
with their audit entry, the timeline filtered to people's actions, an organization's page
with its people masked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from breachdesk.impact import read_impact
from breachdesk.services.incident import add_task
from breachdesk.services.users import add
from breachdesk.store import read_events
from breachdesk.store.replay import compare_tables
from breachdesk.web.dashboard import create_app
from helpers import open_ws, within

PASSWORD = "correct horse battery"


@pytest.fixture
def client(notify_ws: Path) -> TestClient:
    within(notify_ws, add, "vera", PASSWORD, "viewer")
    within(notify_ws, add, "rita", PASSWORD, "responder")
    within(notify_ws, add_task, "Rotate the leaked API key", "ops", "2026-11-21T10:00:00Z", "test")
    return TestClient(create_app(notify_ws), base_url="http://127.0.0.1")


def _login(client: TestClient, user: str) -> str:
    client.cookies.clear()
    form = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert form
    r = client.post("/login", data={"username": user, "password": PASSWORD,
                                    "csrf": form.group(1)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/duties").text)
    assert found
    return found.group(1)


def _row(html: str, ident: str) -> str:
    found = re.search(rf'<tr id="{ident}".*?</tr>', html, re.S)
    assert found, ident
    return found.group(0)


@pytest.mark.parametrize(
    ("form", "state"),
    [
        ({"action": "start", "owner": "dpo"}, "in progress"),
        ({"action": "done", "filed_at": "2026-11-30T10:00:00Z", "channel": "ANSPDCP portal",
          "reference": "RO-1", "text": "the dataset came late"}, "done"),
        ({"action": "not_required", "text": "EDPB 9/2022: unlikely to result in a risk"},
         "not required"),
    ],
)  # fmt: skip
def test_a_duty_moved_shows_on_every_page_at_once(
    client: TestClient, notify_ws: Path, form: dict[str, str], state: str
) -> None:
    csrf = _login(client, "rita")
    before = client.get("/").text
    assert 'id="alerts"' in before and "gdpr-art33" in _row(client.get("/duties").text,
                                                            "duty-gdpr-art33")  # fmt: skip
    assert "OVERDUE" in _row(client.get("/duties").text, "duty-gdpr-art33")
    r = client.post("/duties/gdpr-art33", data={**form, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    row = _row(client.get("/duties").text, "duty-gdpr-art33")
    assert state in row
    if state != "in progress":  # filed or not required: no longer overdue, anywhere
        assert "OVERDUE" not in row
        for path in ("/", "/tasks", "/timeline", "/impact"):
            alerts = re.search(r'<p class="alert".*?</p>', client.get(path).text, re.S)
            assert alerts is None or "gdpr-art33" not in alerts.group(0), path
    timeline = client.get("/timeline").text
    assert "duty gdpr-art33" in timeline
    with open_ws(notify_ws) as ws:
        assert compare_tables(ws.store) == []


def test_duty_forms_refuse_viewers_csrf_and_bad_input(client: TestClient) -> None:
    csrf = _login(client, "vera")
    assert '<select name="action"' not in client.get("/duties").text
    r = client.post("/duties/gdpr-art33", data={"action": "start", "owner": "x", "csrf": csrf})
    assert r.status_code == 403
    csrf = _login(client, "rita")
    r = client.post("/duties/gdpr-art33", data={"action": "start", "owner": "x"})
    assert r.status_code == 403  # no CSRF token
    late = client.post("/duties/gdpr-art33", data={
        "action": "done", "filed_at": "2026-11-30T10:00:00Z", "channel": "portal",
        "reference": "R", "csrf": csrf})  # fmt: skip
    assert late.status_code == 400 and "reasons for the delay" in late.text
    unknown = client.post("/duties/gdpr-art99", data={"action": "start", "owner": "x",
                                                      "csrf": csrf})  # fmt: skip
    assert unknown.status_code == 400 and "no regime" in unknown.text


def test_tasks_are_edited_with_their_audit_entry(client: TestClient, notify_ws: Path) -> None:
    csrf = _login(client, "rita")
    page = client.get("/tasks").text
    task = re.search(r'<tr id="task-(\d+)"', page)
    assert task and "OVERDUE" in page and 'id="alerts"' in page
    ident = task.group(1)
    r = client.post(f"/tasks/{ident}", data={"status": "done", "owner": "sre-team",
                                             "due": "", "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    row = _row(client.get("/tasks").text, f"task-{ident}")
    assert "sre-team" in row and 'value="done" selected' in row and "OVERDUE" not in row
    bad = client.post(f"/tasks/{ident}", data={"status": "maybe", "owner": "x", "csrf": csrf})
    assert bad.status_code == 400
    with open_ws(notify_ws) as ws:
        edits = [e for e in read_events(ws.store) if e.action == "task.updated"]
        assert edits and edits[-1].payload["owner"] == "sre-team" and edits[-1].actor == "rita"
        assert compare_tables(ws.store) == []
    _login(client, "vera")
    assert client.post(f"/tasks/{ident}", data={"status": "open", "owner": "x",
                                                "csrf": csrf}).status_code == 403  # fmt: skip


def test_timeline_shows_peoples_actions_unless_asked(client: TestClient) -> None:
    _login(client, "vera")
    people = client.get("/timeline").text
    assert "assess:" not in people and "notify." not in people
    assert "task" in people  # a person's action
    everything = client.get("/timeline", params={"all": "1"}).text
    assert "assess:" in everything


def test_an_organizations_page_masks_its_people(client: TestClient) -> None:
    _login(client, "vera")
    listing = client.get("/organizations").text
    link = re.search(r'href="/organizations/([^"]+)"', listing)
    assert link
    page = client.get(f"/organizations/{link.group(1)}")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", " ", page.text)
    emails = re.findall(r"\S+@\S+", text)
    assert emails and all("***@" in e for e in emails)  # masked, never whole
    assert "Admins to notify" in text and "Affected members" in text
    assert client.get("/organizations/no-such-org").status_code == 404
    impact = client.get("/impact").text
    assert "What was exposed" in impact and "user.contact.email" not in impact


def test_an_organizations_page_shows_no_contacts_from_a_changed_directory(
    client: TestClient, notify_ws: Path
) -> None:
    # the directory assess matched is the one whose people the page names: once it changed
    # (addresses rewritten, a row assess would refuse) the page says so instead of showing
    # whoever the new file holds, as notify plan refuses it
    _login(client, "vera")
    link = re.search(r'href="/organizations/([^"]+)"', client.get("/organizations").text)
    assert link
    page = f"/organizations/{link.group(1)}"
    assert 'id="directory-changed"' not in client.get(page).text
    with open_ws(notify_ws) as ws:
        folder = Path(read_impact(ws.output("impact.json"))["provenance"]["directory"]["path"])
    users = folder / "users.csv"
    kept, stat = users.read_bytes(), users.stat()
    try:  # the directory is shared by the session's workspaces: put it back as it was
        users.write_bytes(kept.replace(b"@", b"@changed-") + b"zz9,z@z.example,Z,en,US,,bogus\n")
        changed = client.get(page)
        assert changed.status_code == 200 and 'id="directory-changed"' in changed.text
        text = re.sub(r"<[^>]+>", " ", changed.text)
        assert not re.findall(r"\S+@\S+", text) and "changed-" not in text
        users.unlink()
        assert 'id="directory-changed"' in client.get(page).text  # gone: the same
    finally:
        users.write_bytes(kept)
        os.utime(users, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert re.findall(r"\S+@\S+", re.sub(r"<[^>]+>", " ", client.get(page).text))
