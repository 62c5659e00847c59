"""Composing, linting and signing notices: every language, hostile names, each lint refusal,
DKIM signatures checked by dkimpy, the catalogs complete, golden notices per language."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from babel.messages.extract import extract_from_dir
from hypothesis import given
from hypothesis import strategies as st

from breachdesk.errors import NoticeError
from breachdesk.notify.compose import LABELS, Composed, Composer, Context, NoticeRow
from breachdesk.notify.dkim import Signer, create_key
from breachdesk.notify.lint import lint
from breachdesk.notify.locales import LANGUAGES, negotiate, translations
from breachdesk.notify.message import recipient, render
from breachdesk.notify.names import safe_name

GOLDEN = Path(__file__).parent / "golden" / "notices"
WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
CONTEXT = Context(
    company="Example",
    sender="security@example.com",
    official_domains=("example.com",),
    verify_url="https://example.com/security/notice",
    vendor="Mixpanel",
    learned_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC),
    timezone="Europe/Bucharest",
    incident_id=1,
)
HOSTILE = [
    "Click http://evil.example to keep your account",
    "<script>alert(1)</script>",
    "x" * 2000,
    "Bob\r\nBcc: victim@example.org",
    "Alice\u202eexe.cod",
    "Pаypal Support",  # Cyrillic a
    "support@evil.example",
    "evil.example",
    "{{ 7*7 }}",
]


def _user(name: str = "Maria Popescu", locale: str = "ro-RO", **facts: object) -> NoticeRow:
    base: dict[str, object] = {
        "categories": ["user.contact.email", "user.location.imprecise", "user.name"],
        "mfa": "off",
    }
    return NoticeRow(1, "user", "u1", "", "maria@example.org", name, locale, "BD-7KQ4M-2XPAR",
                     base | facts)  # fmt: skip


def _admin(locale: str = "en") -> NoticeRow:
    facts = {"categories": ["user.contact.email", "user.name"], "affected_members": 3,
             "members_without_mfa": 2, "without_mfa_sample": ["a***@e***.org", "b***@e***.net"]}  # fmt: skip
    return NoticeRow(2, "admin", "u2", "org_1", "admin@example.net", "Ion Ionescu", locale,
                     "BD-Q2WXR-M4N8P", facts)  # fmt: skip


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    workspace = tmp_path_factory.mktemp("keys")
    create_key(workspace, "bd2026")
    return Signer.load(workspace, "example.com", "bd2026")


def _wire(composed: Composed) -> bytes:
    return render(composed, CONTEXT, WHEN)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["user", "admin"])
def test_golden_notice_per_language(language: str, kind: str, signer: Signer) -> None:
    notice = _user(locale=language) if kind == "user" else _admin(locale=language)
    composed = Composer(CONTEXT).compose(notice)
    assert composed.language == language
    raw = _wire(composed)
    assert lint(composed, raw, CONTEXT.official_domains, dkim_ready=True) == []
    rendered = f"Subject: {composed.subject}\n\n{composed.text}\n----- HTML -----\n{composed.html}"
    path = GOLDEN / f"{kind}.{language}.txt"
    if os.environ.get("BREACHDESK_UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")
    signed = signer.sign(raw)
    record = signer.dns_record().encode()
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)
    assert not dkim.verify(
        signed.replace(b"Mixpanel", b"Mixpane1"), dnsfunc=lambda n, timeout=5: record
    )


def test_what_a_user_notice_says() -> None:
    composed = Composer(CONTEXT).compose(_user(locale="en", mfa="off"))
    text = composed.text
    assert "Hello Maria Popescu," in text
    assert text.index("Turn on two-factor authentication") < text.index("Distrust unexpected")
    assert "- email addresses" in text and "- payment card numbers" in text
    assert "BD-7KQ4M-2XPAR" in text and "https://example.com/security/notice" in text
    assert "November 20, 2026" in text and "Eastern European" in text  # the zone is named
    assert "We will never ask you for your password" in text
    keep = Composer(CONTEXT).compose(_user(locale="en", mfa="on")).text
    assert "Keep two-factor authentication" in keep and "Turn on two-factor" not in keep
    leaked = (
        Composer(CONTEXT)
        .compose(
            _user(locale="en", categories=["user.contact.email", "user.authorization.credentials"])
        )
        .text
    )
    assert "Change your password" in leaked
    assert "- passwords, access tokens or API keys" not in leaked.split("What was not exposed")[1]


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("language", LANGUAGES)
def test_hostile_names_never_reach_a_message(name: str, language: str) -> None:
    composed = Composer(CONTEXT).compose(_user(name=name, locale=language))
    raw = _wire(composed)
    assert lint(composed, raw, CONTEXT.official_domains, dkim_ready=True) == []
    for fragment in ("evil", "script", "xxxxxxxx", "Bcc", "\u202e", "Pаypal", "{{", "49"):
        assert fragment not in composed.text and fragment not in composed.html
        assert fragment.encode() not in raw


@given(st.text(max_size=120))
def test_an_accepted_name_is_plain(name: str) -> None:
    accepted = safe_name(name)
    if accepted is None:
        return
    assert 0 < len(accepted) <= 64
    assert not re.search(r"[<>@:/\\{}\[\]\"=&;#%0-9]", accepted)
    assert not re.search(r"\w\.\w", accepted)  # no domain shape
    assert all(c == " " or (c.isprintable() and not c.isspace()) for c in accepted)


def test_names_people_have_are_accepted() -> None:
    for name in ["Maria Popescu", "José Ñúñez", "山田 太郎", "J. R. R. Tolkien", "O'Brien",
                 "Anne-Marie", "Ştefan Ţurcanu", "Д. Иванов"]:  # fmt: skip
        assert safe_name(name) == name


def test_locales_fall_back_to_english() -> None:
    assert negotiate("pt_BR") == "en" and negotiate("") == "en" and negotiate("xx-??") == "en"
    assert negotiate("ro-RO") == "ro" and negotiate("de_AT") == "de" and negotiate("ja") == "ja"
    assert Composer(CONTEXT).compose(_user(locale="pt-BR")).language == "en"
    with pytest.raises(NoticeError, match="no catalog"):
        translations("pt")


def test_catalogs_translate_every_message() -> None:
    package = Path(__file__).parents[1] / "src" / "breachdesk" / "notify"
    method_map = [("**/templates/**.j2", "jinja2.ext:babel_extract"), ("**/compose.py", "python")]
    options = {"**/templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    ids = {
        (msg if isinstance(msg, str) else msg[0])
        for _, _, msg, _, _ in extract_from_dir(package, method_map, options, keywords)
    }
    assert len(ids) > 40 and set(LABELS.values()) <= ids
    for language in LANGUAGES[1:]:
        catalog = translations(language)
        missing = [i for i in ids if catalog.gettext(i) == i]
        assert not missing, f"{language}: {missing[:3]}"


def _refusals(composed: Composed, raw: bytes | None = None, dkim_ready: bool = True) -> str:
    return "; ".join(lint(composed, raw or _wire(composed), CONTEXT.official_domains, dkim_ready))


def _edit(composed: Composed, **changes: object) -> Composed:
    from dataclasses import replace

    return replace(composed, **changes)  # type: ignore[arg-type]


def test_the_lint_refuses_what_breaks_the_rules() -> None:
    good = Composer(CONTEXT).compose(_user(locale="en"))
    assert _refusals(good) == ""
    assert "outside the official domains" in _refusals(
        _edit(good, text=good.text + "\nhttps://evil.example/login\n")
    )
    two = _edit(good, text=good.text + "\nhttps://example.com/other\n")
    assert "2 distinct links" in _refusals(two)
    assert "names the host evil.example" in _refusals(_edit(good, text=good.text + "evil.example"))
    image = good.html.replace("</body>", '<img src="https://example.com/p.gif"></body>')
    refused = _refusals(_edit(good, html=image))
    assert "<img> is not allowed" in refused and "src=" in refused
    link = good.html.replace("</body>", '<a href="https://evil.example/">x</a></body>')
    assert "outside the official domains" in _refusals(_edit(good, html=link))
    fewer = good.html.replace("<li>email addresses</li>", "")
    assert "disagree on the exposed categories" in _refusals(_edit(good, html=fewer))
    assert "no DKIM key" in _refusals(good, dkim_ready=False)
    raw = _wire(good)
    injected = raw.replace(b"Auto-Submitted:", b"Bcc: victim@example.org\r\nAuto-Submitted:")
    assert "unexpected or repeated headers: bcc" in _refusals(good, injected)
    bare = raw.replace(b"Auto-Submitted: auto-generated\r\n", b"Auto-Submitted: a\nX: b\r\n")
    assert "bare CR or LF" in _refusals(good, bare)
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    assert boundary is not None
    fence = b"--" + boundary.group(1)
    attachment = raw.replace(
        fence + b"--",
        fence + b"\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="x.pdf"\r\n\r\nJVBERi0=\r\n' + fence + b"--",
    )
    refused = _refusals(good, attachment)
    assert "only a text and an HTML part" in refused and "is an attachment" in refused
    outside = Context(**{**CONTEXT.__dict__, "sender": "security@evil.example"})
    composed = Composer(outside).compose(_user(locale="en"))
    assert "sender domain evil.example" in _refusals(composed, render(composed, outside, WHEN))


def test_headers_cannot_be_injected() -> None:
    good = Composer(CONTEXT).compose(_user(locale="en"))
    with pytest.raises(ValueError, match="line break"):
        render(_edit(good, subject="Hi\r\nBcc: victim@example.org"), CONTEXT, WHEN)
    for address in ["a@b.org\r\nBcc: c@d.org", "no-at-sign", "a b@example.org", "a\u200b@example.org",
                    "x@localhost", "x@exa..mple.org"]:  # fmt: skip
        with pytest.raises(ValueError):
            recipient(address)
    assert recipient("Ana@Bücher.example") == "Ana@xn--bcher-kva.example"
    assert recipient("jose\u0301@example.es") == "jos\u00e9@example.es"  # NFC, by SMTPUTF8
    utf8 = Composer(CONTEXT).compose(_edit_to("josé@example.es"))
    raw = render(utf8, CONTEXT, WHEN)
    assert "To: josé@example.es\r\n".encode() in raw
    assert lint(utf8, raw, CONTEXT.official_domains, dkim_ready=True) == []


def _edit_to(address: str) -> NoticeRow:
    from dataclasses import replace

    return replace(_user(locale="en"), email=address)


def test_a_notice_without_a_vendor_is_not_composed() -> None:
    with pytest.raises(NoticeError, match="vendor"):
        Composer(Context(**{**CONTEXT.__dict__, "vendor": ""}))


@given(st.lists(st.sampled_from([b"a", b"b", b" ", b"\t", b"\r\n", b"=", b"\r", b"\n"]),
                max_size=40))  # fmt: skip
def test_body_canonicalization_matches_the_rfc_line_by_line(pieces: list[bytes]) -> None:
    from breachdesk.notify.dkim import canonical_body

    body = b"".join(pieces)
    lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    assert canonical_body(body) == b"".join(line + b"\r\n" for line in lines)


def test_a_template_error_is_named(tmp_path: Path) -> None:
    (tmp_path / "user.txt.j2").write_text("{{ no_such_value }}")
    (tmp_path / "user.html.j2").write_text("<p></p>")
    composer = Composer(CONTEXT)
    composer._folder = str(tmp_path)
    with pytest.raises(NoticeError, match="template user"):
        composer.compose(_user(locale="en"))
