"""The phishing pages: the dashboard's watch list and its upload of a forwarded message, and
the public check's upload (size-limited, rate-limited, verdict and reasons only), over a
real HTTP server on loopback and in headless Chromium when it is there."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from breachdesk.services.notify import preview
from breachdesk.services.users import add
from breachdesk.services.verify import publish
from breachdesk.store import read_events
from breachdesk.web.dashboard import create_app
from breachdesk.web.phishing import UPLOAD_LIMIT
from breachdesk.web.verify import create_verify_app
from helpers import store_of, within

PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"


@pytest.fixture
def signed(notify_ws: Path) -> tuple[Path, bytes]:
    """The workspace and one genuine notice of it."""
    return notify_ws, within(notify_ws, preview, sample=1)[0].eml.read_bytes()


def _serve(app: FastAPI) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _published(workspace: Path, folder: Path) -> Path:
    from sqlalchemy import update

    from breachdesk.store import models as m

    store = store_of(workspace)
    with store.session() as session, session.begin():
        session.execute(
            update(m.Notice).values(status="sent", sent_at=datetime(2026, 11, 26, 10, tzinfo=UTC))
        )
    store.close()
    within(workspace, publish, folder)
    return folder


def test_the_public_upload(signed: tuple[Path, bytes], tmp_path: Path) -> None:
    workspace, notice = signed
    folder = _published(workspace, tmp_path / "public")
    basis = (folder / "phishing.json").read_text()
    assert "example.com" in basis and "PRIVATE" not in basis and "@" not in basis
    server = _serve(create_verify_app(folder, per_minute=1000))
    base = next(server)
    try:
        with httpx.Client(base_url=base) as web:
            form = web.get("/message")
            assert form.status_code == 200 and 'type="file"' in form.text
            genuine = web.post("/message", files={"message": ("n.eml", notice, "message/rfc822")})
            assert genuine.status_code == 200
            assert "Genuine: this message was sent by us" in genuine.text
            assert "Verdict: authentic" in genuine.text
            forged = notice.replace(b"https://example.com/", b"https://examp1e.com/")
            answer = web.post("/message", files={"message": ("n.eml", forged)})
            assert "Verdict: lookalike" in answer.text and "examp1e.com" in answer.text
            # the answer holds the verdict and the reasons, nothing of the message itself
            assert "heidi" not in answer.text.lower() and "@" not in answer.text
            raw = web.post("/message", content=forged,
                           headers={"content-type": "message/rfc822"})  # fmt: skip
            assert "Verdict: lookalike" in raw.text
            big = web.post("/message", files={"message": ("x.eml", b"x" * (UPLOAD_LIMIT + 1))})
            assert big.status_code == 413 and "larger than the 512 kB allowed" in big.text

            def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted
                for _ in range(40):
                    yield b"y" * 65536

            streamed = web.post("/message", content=chunks(),
                                headers={"content-type": "message/rfc822"})  # fmt: skip
            assert streamed.status_code == 413
            empty = web.post("/message", files={"message": ("x.eml", b"")})
            assert empty.status_code == 400 and "empty" in empty.text
            odd = web.post("/message", data={"code": "x"})
            assert odd.status_code == 400
    finally:
        next(server, None)
    limited = TestClient(create_verify_app(folder, per_minute=30))
    statuses = [limited.post("/message", files={"message": ("n.eml", notice)}).status_code
                for _ in range(8)]  # fmt: skip
    assert statuses[:6] == [200] * 6 and statuses[-1] == 429


def test_without_a_published_basis_there_is_no_upload(
    signed: tuple[Path, bytes], tmp_path: Path
) -> None:
    folder = _published(signed[0], tmp_path / "public")
    (folder / "phishing.json").unlink()
    assert TestClient(create_verify_app(folder)).get("/message").status_code == 404


def _login(client: TestClient | httpx.Client, user: str) -> str:
    form = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert form
    r = client.post("/login", data={"username": user, "password": PASSWORD,
                    "csrf": form.group(1)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/phishing").text)
    assert found
    return found.group(1)


def test_the_dashboard_page(signed: tuple[Path, bytes]) -> None:
    workspace, notice = signed
    within(workspace, add, "vera", PASSWORD, "viewer")
    client = TestClient(create_app(workspace), base_url="http://127.0.0.1")
    assert client.get("/phishing", follow_redirects=False).headers["location"] == "/login"
    csrf = _login(client, "vera")
    page = client.get("/phishing")
    assert page.status_code == 200 and "domains imitate example.com" in page.text
    assert "examp1e.com" in page.text or "homoglyph" in page.text
    only = client.get("/phishing", params={"technique": "confusable"})
    rows = re.findall(r"<tr><td>([^<]+)</td>", only.text)
    assert rows and all(r.startswith("xn--") for r in rows)
    found = client.get("/phishing", params={"q": "example-security"})
    assert "example-security.com" in found.text
    assert client.get("/phishing", params={"q": "<script>x</script>"}).status_code == 200
    refused = client.post("/phishing/check", files={"message": ("n.eml", notice)},
                          data={"csrf": "wrong"})  # fmt: skip
    assert refused.status_code == 403
    checked = client.post("/phishing/check", files={"message": ("n.eml", notice)},
                          data={"csrf": csrf})  # fmt: skip
    assert checked.status_code == 200 and "Verdict: authentic" in checked.text
    altered = notice.replace(b"We removed", b"We paused!")
    answer = client.post("/phishing/check", files={"message": ("n.eml", altered)},
                         data={"csrf": csrf})  # fmt: skip
    assert "Verdict: unauthenticated" in answer.text and "body was changed" in answer.text
    store = store_of(workspace)
    events = [e for e in read_events(store) if e.action == "desk.message_checked"]
    store.close()
    assert [e.payload["verdict"] for e in events] == ["authentic", "unauthenticated"]
    assert all(set(e.payload) == {"verdict"} for e in events)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium: .ci/run installs Debian's")
def test_the_upload_in_a_browser(signed: tuple[Path, bytes], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    workspace, notice = signed
    folder = _published(workspace, tmp_path / "public")
    forged = tmp_path / "forwarded.eml"
    forged.write_bytes(notice.replace(b"https://example.com/", b"https://examp1e.com/"))
    server = _serve(create_verify_app(folder))
    base = next(server)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page()
            page.goto(base + "/message")
            page.set_input_files("input[name=message]", str(forged))
            page.click("button[type=submit]")
            expect(page.locator("#answer")).to_contain_text("Not from us")
            expect(page.locator("#answer")).to_contain_text("examp1e.com")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "public-message-check.png"), full_page=True)
            browser.close()
    finally:
        next(server, None)
