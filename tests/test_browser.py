"""The dashboard and the public check in headless Chromium (Debian's, through Playwright):
sign in, read the overview, search an organization, record a decision, watch the sent count
move while a send runs, check a genuine reference with its address, the same reference
with another address, and a forged one. Screenshots of the overview go to
test-artifacts/."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachdesk.services.notify import send
from breachdesk.services.users import add
from breachdesk.services.verify import publish
from breachdesk.settings import SmtpSettings
from breachdesk.web.dashboard import create_app
from breachdesk.web.verify import create_verify_app
from helpers import store_of, within
from live_server import serving
from smtp_sink import Sink, start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
PASSWORD = "correct horse battery"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium: .ci/run installs Debian's"
)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


def test_the_desk_in_a_browser(notify_ws: Path, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    within(notify_ws, add, "rita", PASSWORD, "responder")
    handler = Sink()
    controller, smtp_port = start(handler)
    try:
        with serving(create_app(notify_ws)) as base:
            page = browser.new_page()
            page.goto(base + "/")
            expect(page).to_have_url(re.compile(r"/login$"))
            page.fill("input[name=username]", "rita")
            page.fill("input[name=password]", "wrong password")
            page.click("button[type=submit]")
            expect(page.locator(".error")).to_contain_text("wrong username or password")
            page.fill("input[name=username]", "rita")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Overview")
            assert int(page.inner_text("#affected-users").replace(",", "")) > 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

            page.click("text=Organizations")
            first = page.locator("#orgs tr >> nth=1 >> td >> nth=0").inner_text()
            page.fill("#org-search", first)
            page.click("#org-search-form button[type=submit]")
            expect(page.locator("#org-total")).to_contain_text("match")
            expect(page.locator("#orgs")).to_contain_text(first)

            page.click("text=Decisions")
            page.fill("#decide input[name=subject]", "gdpr-art34")
            page.fill("#decide input[name=decision]", "required")
            page.fill("#decide textarea[name=rationale]", "a password reset token leaked")
            page.click("#decide button[type=submit]")
            expect(page.locator("#decisions")).to_contain_text("a password reset token leaked")

            page.click("text=Overview")
            expect(page.locator("#notices-sent")).to_have_text("0")
            sending = threading.Thread(
                target=within,
                args=(notify_ws, send),
                kwargs={"live": True, "helpers": 0,
                        "smtp": SmtpSettings(port=smtp_port, starttls="off", connections=1),
                        "per_second": 3.0, "per_domain_per_second": 0.0},
            )  # fmt: skip
            sending.start()
            # the page refreshes its progress every second: the count moves without a reload
            expect(page.locator("#notices-sent")).not_to_have_text("0", timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / "overview-sending.png"), full_page=True)
            sending.join(timeout=60)
            assert handler.received
    finally:
        controller.stop()

    published = tmp_path / "public"
    within(notify_ws, publish, published)
    from sqlalchemy import select

    from breachdesk.store import models as m

    store = store_of(notify_ws)
    with store.session() as session:
        notices = session.execute(
            select(m.Notice.reference, m.Notice.email).where(m.Notice.status == "sent").limit(2)
        ).all()
    store.close()
    (code, address), (_, other_address) = notices
    with serving(create_verify_app(published)) as base:
        page = browser.new_page()
        page.goto(base + "/")
        page.fill("input[name=code]", code.lower())
        page.fill("input[name=address]", address.upper())
        page.click("button[type=submit]")
        expect(page.locator("#answer")).to_contain_text("Genuine")
        # a real reference with the address of someone else: what a phisher would borrow
        page.fill("input[name=code]", code)
        page.fill("input[name=address]", other_address)
        page.click("button[type=submit]")
        expect(page.locator("#answer")).to_contain_text("Not a notice of ours")
        page.fill("input[name=code]", "BD-7KQ4M-2XPAR")
        page.fill("input[name=address]", address)
        page.click("button[type=submit]")
        expect(page.locator("#answer")).to_contain_text("Not a notice of ours")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "public-check.png"), full_page=True)


def test_duty_lifecycle_and_a_task_edit_in_a_browser(notify_ws: Path, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    from breachdesk.services.incident import add_task

    assert isinstance(browser, Browser)
    within(notify_ws, add, "rita", PASSWORD, "responder")
    within(notify_ws, add_task, "Rotate the leaked API key", "ops", "2026-11-21T10:00:00Z", "t")
    with serving(create_app(notify_ws)) as base:
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#alerts")).to_contain_text("gdpr-art33")  # overdue, on every page

        page.click("nav >> text=Duties")
        row = page.locator("#duty-gdpr-art33")
        expect(row).to_contain_text("OVERDUE")
        row.locator("select[name=action]").select_option("start")
        row.locator("input[name=owner]").fill("dpo")
        row.locator("button[type=submit]").click()
        expect(page.locator("#duty-gdpr-art33 .state")).to_contain_text("in progress")

        row = page.locator("#duty-gdpr-art33")
        row.locator("select[name=action]").select_option("done")
        row.locator("input[name=filed_at]").fill("2026-11-30T10:00:00Z")
        row.locator("input[name=channel]").fill("ANSPDCP portal")
        row.locator("input[name=reference]").fill("RO-2026-118")
        row.locator("textarea[name=text]").fill("the vendor's dataset arrived on day 4")
        row.locator("button[type=submit]").click()
        expect(page.locator("#duty-gdpr-art33 .state")).to_contain_text("done")
        expect(page.locator("#duty-gdpr-art33")).not_to_contain_text("OVERDUE")
        expect(page.locator("#duty-gdpr-art33")).to_contain_text("RO-2026-118")

        row = page.locator("#duty-gdpr-art33")
        row.locator("select[name=action]").select_option("follow_up")
        row.locator("input[name=filed_at]").fill("2026-11-30T12:00:00Z")
        row.locator("input[name=channel]").fill("email")
        row.locator("input[name=reference]").fill("RO-2026-118/2")
        row.locator("button[type=submit]").click()
        expect(page.locator("#duty-gdpr-art33")).to_contain_text("follow-up")

        page.click("nav >> text=Overview")  # the same change, on another page at once
        expect(page.locator("#overview-duties")).to_contain_text("done")

        page.click("nav >> text=Tasks")
        task = page.locator("#tasks tr.overdue").first
        expect(task).to_contain_text("Rotate the leaked API key")
        task.locator("input[name=owner]").fill("sre-team")
        task.locator("select[name=status]").select_option("done")
        task.locator("button[type=submit]").click()
        done = page.locator("#tasks tr", has_text="Rotate the leaked API key")
        expect(done.locator("input[name=owner]")).to_have_value("sre-team")
        expect(done).not_to_contain_text("OVERDUE")
        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(base + "/duties")
        page.screenshot(path=str(ARTIFACTS / "duties.png"), full_page=True)
