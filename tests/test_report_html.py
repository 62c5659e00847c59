"""report.html opens with a briefing an executive reads on one screen (issue 12, item 6): the
incident, its dates, the headline numbers, duties with deadlines, what to do next, links to
the run's files; organizations by name; the records not scanned beside every "absent". No
JavaScript, no network, every value escaped — and looked at in headless Chromium."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
HOSTILE = '<script>alert("x")</script>'


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture
def assessed(small: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    export, directory = small
    orgs = directory / "organizations.csv"
    orgs.write_text(orgs.read_text().replace("o5,Hooli", f'o5,"{HOSTILE.replace(chr(34), "")}"'))
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    return export, directory, ws


def _brief(html: str) -> str:
    found = re.search(r'(?s)<section class="brief".*?</section>', html)
    assert found, "no briefing"
    return found.group(0)


def test_without_awareness_the_briefing_says_what_to_record(
    assessed: tuple[Path, Path, Path],
) -> None:
    _, _, ws = assessed
    html = (ws / "report.html").read_text()
    brief = _brief(html)
    assert html.index('<section class="brief"') < html.index("What was looked for")
    assert "No awareness time is recorded, so no deadline can be computed" in brief
    assert f"breachdesk obligations {ws}" in brief
    assert "Record when the company became aware" in brief
    for number, what in (("9", "affected users"), ("6", "organizations"),
                         ("2", "secrets to revoke"), ("5", "records not readable")):  # fmt: skip
        assert f"<b>{number}</b>{what}" in brief
    # the steps name what is missing before notices can go
    assert "--company …" in brief and "--measure" in brief and "notify plan" in brief


def test_duties_with_deadlines_overdue_first_and_every_value_escaped(
    assessed: tuple[Path, Path, Path],
) -> None:
    export, directory, ws = assessed
    hostile_vendor = "<img src=x onerror=alert(1)>"
    ok = runner.invoke(app, ["incident", "set", str(ws), "--vendor", hostile_vendor,
                             "--title", HOSTILE, "--timezone", "Europe/Bucharest", "--aware",
                             "company=2026-11-20T14:05:00Z", "--vendor-incident-start",
                             "2026-11-01T08:00:00Z"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    html = (ws / "report.html").read_text()
    brief = _brief(html)
    rows = re.findall(r'(?s)<tr( class="overdue")?><td>([^<]*)</td><td>(\w+)</td>.*?'
                      r'<td class="due">([^<]*)</td>', brief)  # fmt: skip
    duties = {title: (bool(overdue), outcome, due) for overdue, title, outcome, due in rows}
    art33 = duties["GDPR Art. 33: notify the supervisory authority"]
    assert art33 == (True, "required", "2026-11-23 16:05 EET (overdue)")
    assert duties["GDPR Art. 34: communicate the breach to the people affected"][2] == (
        "without undue delay"
    )
    assert "vendor&#39;s incident began</dt><dd>2026-11-01 10:00 EET" in brief
    assert "passwords, access tokens or API keys" in brief  # categories in plain words
    assert "user.authorization.credentials" not in brief
    # escaped wherever they appear; nothing runs, nothing loads
    assert HOSTILE not in html and hostile_vendor not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Changes since run 1: none" in brief or "changes since run 1: none" in brief
    page = _page(html)
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "link")]
    assert all(not (a.get("src") or "") for _, a in page.tags)
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in html


def test_links_to_the_runs_files_work_from_the_workspace_and_the_run(
    assessed: tuple[Path, Path, Path],
) -> None:
    export, directory, ws = assessed
    assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    html = (ws / "report.html").read_text()
    hrefs = [a["href"] for t, a in _page(_brief(html)).tags if t == "a"]
    assert "affected_users.csv" in hrefs and "changes.csv" in hrefs
    for href in hrefs:
        assert "/" not in href and ":" not in href  # relative, beside report.html
        assert (ws / "runs" / "2" / href).is_file(), href
    for href in hrefs:
        if not href.startswith("changes."):
            assert (ws / href).is_file(), href  # the workspace's links into current/


def test_organizations_by_name_and_what_was_not_scanned(
    assessed: tuple[Path, Path, Path],
) -> None:
    _, _, ws = assessed
    html = (ws / "report.html").read_text()
    assert "<td>Acme</td><td><code>o1</code></td>" in html
    assert "Acme (o1)" in html  # the chart's label
    assert '<td>Vandelay</td><td><code>o6</code></td><td class="n">0 (its id appeared' in html
    absent = re.findall(r"<td>absent: [^<]*</td><td>([^<]*)</td>", html)
    assert absent and all(
        cell == "5 records not scanned (1 invalid_json, 2 not_an_object, 1 unknown_shape, "
        "1 wrong_field_count: rejected.csv)"
        for cell in absent
    )


def test_every_record_read_says_so_beside_absent(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.jsonl").write_text('{"event":"x","properties":{"distinct_id":"u1"}}\n')
    assess(AssessRequest([export], tmp_path / "ws", workers=1))
    html = (tmp_path / "ws" / "report.html").read_text()
    assert re.findall(r"<td>absent: [^<]*</td><td>([^<]*)</td>", html)[0] == (
        "none: every record was read"
    )
    brief = _brief(html)
    assert "no directory matched" in brief and "--directory DIR" in brief


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium: .ci/run installs Debian's")
def test_the_briefing_fits_one_screen_in_chromium(assessed: tuple[Path, Path, Path]) -> None:
    from playwright.sync_api import sync_playwright

    export, directory, ws = assessed
    runner.invoke(app, ["incident", "set", str(ws), "--vendor", "Mixpanel", "--aware",
                        "company=2026-11-20T14:05:00Z"])  # fmt: skip
    assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((ws / "report.html").resolve().as_uri())
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-briefing.png"))
        for heading in ("The incident", "In numbers", "Duties", "What to do next"):
            box = page.get_by_role("heading", name=heading).bounding_box()
            assert box is not None and box["y"] + box["height"] < 900, heading
        steps = page.locator("ol.steps li")
        assert steps.count() >= 4
        assert page.locator("tr.overdue").count() >= 1
        browser.close()
    assert requests == [(ws / "report.html").resolve().as_uri()]  # nothing else fetched


def test_an_admin_of_two_organizations_is_counted_once_and_told_twice(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    """The briefing's count of admins is of people; the notices they get are one per
    organization, and the step says so when the two differ."""
    import csv

    export, directory = small
    members = directory / "memberships.csv"
    members.write_text(members.read_text() + "u1,o2,admin\n")
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    with (ws / "affected_organizations.csv").open(newline="") as fh:
        rows = [r["admins_to_notify"].split(";") for r in csv.DictReader(fh)]
    pairs = sum(len([a for a in r if a]) for r in rows)
    people = len({a for r in rows for a in r if a})
    assert pairs > people  # u1 administers two affected organizations
    brief = " ".join(_brief((ws / "report.html").read_text()).split())
    assert f"{people} admins receiving {pairs} notices, one per organization they administer" in (
        brief
    )
