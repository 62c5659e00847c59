"""Composing, linting and signing notices: every language, hostile names, each lint refusal,
DKIM signatures checked by dkimpy, the catalogs complete, golden notices per language; what
a notice states of this incident (measures, contact, the vendor's dates, own systems), admin
notices (organization by name, members affected or only the id, members without MFA by
name, credentials to replace, counts in the reader's locale) and workspace templates."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from babel.messages.extract import extract_from_dir
from hypothesis import given
from hypothesis import strategies as st

from breachdesk.errors import NoticeError
from breachdesk.notify.compose import (
    LABELS,
    TEMPLATE_VERSION,
    Composed,
    Composer,
    Context,
    NoticeRow,
)
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
    contact_email="privacy@example.com",
    measures=("We removed the analytics SDK from our website and apps.",
              "We revoked the vendor's access to our data."),
    # German has its own text; Japanese and Romanian quote the company's own words
    measures_in=(("de", ("Wir haben das Analyse-SDK von unserer Website entfernt.",)),),
    vendor_aware_at=datetime(2026, 11, 9, 10, 0, tzinfo=UTC),
    vendor_incident_start=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    vendor_incident_end=datetime(2026, 11, 8, 18, 0, tzinfo=UTC),
    own_systems_breached=False,
)  # fmt: skip
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


def _admin(locale: str = "en", org_id: str = "org_1", **changes: object) -> NoticeRow:
    facts = {"categories": ["user.contact.email", "user.name"], "affected_members": 1234,
             "members_without_mfa": 3, "without_mfa_names": ["Ana Pop", "Bob O'Brien"],
             "org_name": "Acme Kunden GmbH", "credentials": {"api_key": 2, "credential": 1}}  # fmt: skip
    return NoticeRow(2, "admin", "u2", org_id, "admin@example.net", "Ion Ionescu", locale,
                     "BD-Q2WXR-M4N8P", facts | changes)  # fmt: skip


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
    keywords = {"_": None, "N_": None, "ngettext": (1, 2), "N_plural": (1, 2)}
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
    # every other list too: what to do, what was done
    for item in ("We revoked the vendor&#39;s access", "Distrust unexpected messages"):
        cut, n = re.subn(r"<li>[^\n]*" + re.escape(item) + r"[^\n]*</li>\n", "", good.html)
        assert n == 1 and "disagree on a list" in _refusals(_edit(good, html=cut)), item
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
    composer = Composer(replace(CONTEXT, templates=str(tmp_path)))
    with pytest.raises(NoticeError, match="template user"):
        composer.compose(_user(locale="en"))


def _text(notice: NoticeRow, context: Context = CONTEXT) -> str:
    composed = Composer(context).compose(notice)
    assert lint(composed, render(composed, context, WHEN), context.official_domains, True) == []
    return composed.text


# what the incident record says, and what a notice then states (English)
INCIDENT_FACTS = [
    ({}, ["The incident at Mixpanel took place from November 1, 2026 to November 8, 2026.",
          "Mixpanel became aware of it on November 9, 2026.",
          "Our own systems were not breached: the data was taken from Mixpanel.",
          "What we did\n- We removed the analytics SDK from our website and apps.\n"
          "- We revoked the vendor's access to our data.\n",
          "write to us at privacy@example.com."], []),
    ({"own_systems_breached": None}, [], ["Our own systems"]),
    ({"own_systems_breached": True}, [], ["Our own systems"]),
    ({"vendor_incident_end": None}, ["The incident at Mixpanel began on November 1, 2026."],
     ["took place from"]),
    ({"vendor_incident_start": None}, ["The incident at Mixpanel ended on November 8, 2026."],
     ["began on"]),
    ({"vendor_incident_start": None, "vendor_incident_end": None, "vendor_aware_at": None},
     [], ["The incident at", "became aware"]),
    ({"measures": ()}, [], ["What we did"]),
    ({"contact_email": ""}, [], ["Questions", "write to us"]),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "says", "never"), INCIDENT_FACTS)
@pytest.mark.parametrize("kind", ["user", "admin"])
def test_a_notice_states_what_the_incident_record_holds(
    changes: dict[str, object], says: list[str], never: list[str], kind: str
) -> None:
    context = replace(CONTEXT, **changes)  # type: ignore[arg-type]
    text = _text(_user(locale="en") if kind == "user" else _admin(), context)
    for sentence in says:
        assert sentence in text
    for fragment in [*never, "We stopped sending"]:  # no fixed claim about what was done
        assert fragment not in text


def test_no_catalog_holds_the_fixed_measure_any_more() -> None:
    folder = Path(__file__).parents[1] / "src" / "breachdesk" / "notify"
    for path in [*folder.rglob("*.po"), *folder.rglob("*.pot"), *folder.rglob("*.j2")]:
        assert "We stopped sending" not in path.read_text(encoding="utf-8"), path


# (facts of an admin notice, what it says, what it never says)
ADMIN_CASES = [
    ({}, ["administrator of the organization Acme Kunden GmbH.",
          "involves data about members of your organization.",
          "1,234 members of your organization are affected.",
          "3 of them have not turned on two-factor authentication (MFA).",
          "Among them: Ana Pop and Bob O'Brien.\n1 more has a name we cannot show here.",
          "replaced: 2 API keys and 1 password, access token or private key."],
     ["org_1", "appeared in it", "0 members"]),
    ({"affected_members": 1, "members_without_mfa": 1, "without_mfa_names": ["Ana Pop"]},
     ["1 member of your organization is affected.", "1 of them has not turned",
      "Their name: Ana Pop."], ["Among them"]),
    ({"members_without_mfa": 2}, ["Their names: Ana Pop and Bob O'Brien."], ["Among them"]),
    ({"members_without_mfa": 0, "without_mfa_names": []}, [], ["two-factor authentication (MFA)."
                                                               "\n", "Among", "Their name"]),
    ({"affected_members": 0, "members_without_mfa": 0, "without_mfa_names": [],
      "categories": ["user.account.organization_id"], "credentials": {}},
     ["involves your organization's ID.",
      "No member's data was found in the exported data, but your organization's ID appeared",
      "What was exposed\n- organization IDs"],
     ["members of your organization are affected", "0 members", "What was exposed about them",
      "replaced:"]),
    ({"org_name": "Evil Corp http://evil.example"}, ["the organization org_1."], ["Evil"]),
    ({"org_name": "support@evil.example"}, ["the organization org_1."], ["evil"]),
    ({"org_name": "<b>Acme</b>"}, ["the organization org_1."], ["Acme", "<b>"]),
    ({"org_name": "Call 0800 123 456"}, ["the organization org_1."], ["0800"]),
    ({"org_name": "Smith, Jones & Brown Ltd."}, ["the organization Smith, Jones & Brown Ltd."],
     []),
    ({"org_name": ", Evil"}, ["the organization org_1."], ["Evil"]),
    ({"org_name": "Evil,, Corp"}, ["the organization org_1."], ["Evil"]),
    ({"org_name": "Evil &"}, ["the organization org_1."], ["Evil"]),
    ({"members_without_mfa": 2, "without_mfa_names": ["Ana Pop", "Scott Garcia Jr."]},
     ["Their names: Ana Pop and Scott Garcia Jr.\n"], ["Jr.."]),
    ({"org_name": "Institutul Național de Statistică și Studii Economice"},
     ["the organization Institutul Național de Statistică și Studii Economice."], []),
    # namesakes are one entry with their number, not the same name again and again
    ({"members_without_mfa": 4,
      "without_mfa_names": ["Aida Florea", "Aida Florea", "Aida Florea", "Ana Pop"]},
     ["Their names: Aida Florea (3 accounts) and Ana Pop.\n"], ["Aida Florea, Aida"]),
    ({"members_without_mfa": 5, "without_mfa_names": ["Aida Florea", "Aida Florea", "Ana Pop"]},
     ["Among them: Aida Florea (2 accounts) and Ana Pop.\n2 more have names we cannot show"],
     ["and Ana Pop, and"]),
    # past the cap, members are left out to keep the notice short (not "cannot show")
    ({"members_without_mfa": 75, "without_mfa_names": [f"Ana Pop{'p' * i}" for i in range(60)],
      "without_mfa_listable": 70},
     ["Among them: Ana Pop, Ana Popp,", "20 more are not listed here, to keep this message short.",
      "5 more have names we cannot show here."], ["Ana Pop" + "p" * 50]),
    ({"without_mfa_names": ["Ana Pop", "ana@evil.example", "Bob\u202eO", "https://x.example"]},
     ["Among them: Ana Pop.\n2 more have names we cannot show here."],
     ["evil", "x.example", "\u202e"]),
]  # fmt: skip


@pytest.mark.parametrize(("facts", "says", "never"), ADMIN_CASES)
def test_what_an_admin_notice_says(
    facts: dict[str, object], says: list[str], never: list[str]
) -> None:
    text = _text(_admin(**facts))
    for sentence in says:
        assert sentence in text
    for fragment in never:
        assert fragment not in text
    assert "@" not in text.split("Questions")[0]  # no address before the contact line


def test_an_admin_notice_without_a_usable_name_or_id_says_your_organization() -> None:
    text = _text(_admin(org_id="org id with spaces", org_name=""))
    assert "You receive this as an administrator of your organization." in text
    assert "spaces" not in text


@pytest.mark.parametrize(
    ("language", "members", "without"),
    [("en", "1,234 members", "3 of them"), ("de", "1.234 Mitglieder", "3 davon"),
     ("ro", "1.234 de membri", "3 dintre ei"), ("ja", "メンバー 1,234 人", "そのうち 3 人")],
)  # fmt: skip
def test_counts_are_grouped_in_the_readers_locale(
    language: str, members: str, without: str
) -> None:
    text = _text(_admin(locale=language))
    assert members in text and without in text


CREDENTIALS = [
    ({"api_key": 1}, "replace the credentials found in the data about you: 1 API key."),
    ({"api_key": 2, "credential": 1},
     "replace the credentials found in the data about you: 2 API keys and 1 password, access "
     "token or private key."),
    ({"credential": 3}, "about you: 3 passwords, access tokens or private keys."),
    ({}, "Change your password and replace any API keys or access tokens you use with us."),
]  # fmt: skip


@pytest.mark.parametrize(("found", "sentence"), CREDENTIALS)
def test_a_user_is_told_which_credentials_to_replace(found: dict[str, int], sentence: str) -> None:
    notice = _user(locale="en", categories=["user.contact.email", "user.authorization.credentials"],
                   credentials=found)  # fmt: skip
    assert sentence in _text(notice)


def test_no_credential_sentence_when_none_was_exposed() -> None:
    assert "replace" not in _text(_user(locale="en")).split("What we did")[0]


def test_a_workspace_template_overrides_the_built_in_one_and_is_still_linted(
    tmp_path: Path,
) -> None:
    builtin = Path(__file__).parents[1] / "src" / "breachdesk" / "notify" / "templates"
    source = (builtin / "user.txt.j2").read_text()
    (tmp_path / "user.txt.j2").write_text(
        source.replace('{% include "_facts.txt.j2" %}', "Our own words about {{ vendor }}.\n")
    )
    context = replace(CONTEXT, templates=str(tmp_path))
    composer = Composer(context)
    assert composer.version.startswith(TEMPLATE_VERSION + "+ws.")
    assert Composer(CONTEXT).version == TEMPLATE_VERSION
    composed = composer.compose(_user(locale="en"))
    assert "Our own words about Mixpanel." in composed.text
    assert "What happened" in composed.html  # the HTML part is still the built-in one
    assert lint(composed, render(composed, context, WHEN), context.official_domains, True) == []
    # an override that links elsewhere is refused like any notice
    (tmp_path / "user.txt.j2").write_text(source + "\nSee https://evil.example/login\n")
    bad = Composer(context).compose(_user(locale="en"))
    assert "outside the official domains" in _refusals(bad, render(bad, context, WHEN))
    # and it cannot reach into Python (sandboxed)
    (tmp_path / "user.txt.j2").write_text("{{ company.__class__.__mro__ }}")
    with pytest.raises(NoticeError, match="template user"):
        Composer(context).compose(_user(locale="en"))


def test_namesakes_are_counted_in_the_readers_language() -> None:
    names = ["Aida Florea", "Aida Florea"]
    for language, entry in [("de", "Aida Florea (2 Konten)"), ("ro", "Aida Florea (2 conturi)"),
                            ("ja", "Aida Florea（2件のアカウント）")]:  # fmt: skip
        text = _text(_admin(locale=language, members_without_mfa=2, without_mfa_names=names))
        assert entry in text and text.count("Aida Florea") == 1, language
