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
