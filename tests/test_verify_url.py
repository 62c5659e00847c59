"""The verify URL printed in every notice: only an https link to a host name is a setting
at all (issue 10: ``javascript:``, ``http:`` and ``ftp:`` were accepted)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from breachdesk.errors import SettingsError
from breachdesk.settings import load_settings

REFUSED = {
    "javascript:alert(document.domain)": "must start with https://",
    "JavaScript://example.com/%0aalert(1)": "must start with https://",
    "http://example.com/security/notice": "must start with https://",
    "ftp://example.com/notice": "must start with https://",
    "data:text/html,<script>alert(1)</script>": "must start with https://",
    "//example.com/notice": "must start with https://",
    "https://example.com@evil.example/": "no user part",
    "https://example.com:8443/notice": "no port",
    "https://203.0.113.7/notice": "not an address",
    "https://[2001:db8::1]/notice": "not an address",
    "https://example.com/\nnotice": "control character",
    "https://ex ample.com/": "space",
    "https://localhost/notice": "single label",
    "https://exa_mple.com/": "IDNA 2008",
}


@pytest.mark.parametrize(("url", "reason"), REFUSED.items())
def test_a_verify_url_that_is_not_https_on_a_host_is_refused(
    tmp_path: Path, url: str, reason: str
) -> None:
    (tmp_path / "breachdesk.toml").write_text(tomli_w.dumps({"notify": {"verify_url": url}}))
    with pytest.raises(SettingsError, match=r"field notify\.verify_url") as caught:
        load_settings(tmp_path)
    assert reason in str(caught.value)


def test_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACHDESK_NOTIFY__VERIFY_URL", "javascript:alert(1)")
    with pytest.raises(SettingsError, match="https://"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    ["https://example.com/security/notice", "https://security.example.com/check?ref=1",
     "https://Example.COM/", "https://xn--strae-oqa.de/hinweis"],
)  # fmt: skip
def test_an_official_page_is_accepted(tmp_path: Path, url: str) -> None:
    (tmp_path / "breachdesk.toml").write_text(f'[notify]\nverify_url = "{url}"\n')
    assert load_settings(tmp_path).notify.verify_url == url
