"""The real mixpanel-js SDK (mixpanel-browser from the npm registry, installed at test time
into .cache/npm) in headless Chromium, its api_host pointing at the relay: what reaches the
stand-in vendor is the minimised payload, never the email, name or unlisted fields."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay_helpers import serve_relay, wait_for, write_vendors
from vendor_standin import StandIn, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SDK_VERSION = "2.83.0"
CACHE = Path(__file__).parents[1] / ".cache" / "npm"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium: .ci/run installs Debian's"
)
EMAIL = "rita.page@example.com"
NAME = "Rita Page"

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>app</title>
<script src="/mixpanel.umd.js"></script></head><body><p id="state">loading</p><script>
mixpanel.init("project-token", {api_host: "RELAY/v/mixpanel", batch_flush_interval_ms: 200,
  persistence: "localStorage", track_pageview: false, ip: true});
mixpanel.identify("user-42");
mixpanel.people.set({"$email": "EMAIL", "$name": "NAME", "plan": "team"});
mixpanel.track("Sign In", {"plan": "team", "secret_note": "not listed", "$email": "EMAIL"});
mixpanel.track("Page View");
document.getElementById("state").textContent = "tracked";
</script></body></html>"""


def _sdk() -> Path:
    bundle = CACHE / "node_modules" / "mixpanel-browser" / "dist" / "mixpanel.umd.js"
    if not bundle.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("no npm to install mixpanel-browser from the npm registry")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(CACHE),
             f"mixpanel-browser@{SDK_VERSION}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return bundle


class Site:
    """The company's app: the page and the SDK bundle, served on loopback."""

    def __init__(self, html: str, bundle: bytes) -> None:
        self.html = html.encode()
        self.bundle = bundle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/mixpanel.umd.js":
            body, kind = self.bundle, b"text/javascript"
        else:
            body, kind = self.html, b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind)]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


def test_mixpanel_js_through_the_relay(tmp_path: Path, browser: Any) -> None:
    bundle = _sdk().read_bytes()
    vendor = StandIn().start()
    vendors = write_vendors(tmp_path, vendor.url)
    try:
        with serve_relay(vendors) as (relay, _app):
            html = PAGE.replace("RELAY", relay).replace("EMAIL", EMAIL).replace("NAME", NAME)
            server = _serve(Site(html, bundle))
            base = next(server)
            try:
                page = browser.new_page()
                page.goto(f"{base}/settings/u/{EMAIL}?email={EMAIL}&utm_source=newsletter")
                page.wait_for_selector("#state:has-text('tracked')")
                wait_for(lambda: _paths(vendor) >= {"/track/", "/engage/"}, timeout=20)
            finally:
                next(server, None)
    finally:
        vendor.stop()
    events = [e for r in vendor.received if r.path == "/track/" for e in r.items()]
    sign_in = next(e for e in events if e["event"] == "Sign In")
    props = sign_in["properties"]
    assert props["token"] == "project-token" and props["plan"] == "team"
    assert len(props["distinct_id"]) == 32 and props["distinct_id"] != "user-42"
    assert props["$current_url"].endswith("/settings/u/:id?utm_source=newsletter")
    assert props["$browser"] == "Chrome"
    assert "secret_note" not in props and "$email" not in props
    profiles = [e for r in vendor.received if r.path == "/engage/" for e in r.items()]
    assert profiles[0]["$set"]["plan"] == "team"
    assert set(profiles[0]["$set"]) <= {"plan", "$os", "$browser", "$browser_version"}
    everything = vendor.all_text()
    for raw in (EMAIL, NAME, "user-42", "not listed", "rita.page%40example.com"):
        assert raw not in everything


def _paths(vendor: StandIn) -> set[str]:
    return {r.path for r in vendor.received}


def _serve(app: Any) -> Iterator[str]:
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
