"""The message check as an engine: links in every form, requests for passwords, codes,
keys and payment in four languages, senders' names, and properties: it never raises on
arbitrary bytes or MIME structures (nested multiparts, broken encodings, 1,000 links), and a
signed message with any letter of its body changed is never authentic."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachdesk.notify.dkim import Signer, create_key, dns_record
from breachdesk.phishing.asks import find_asks
from breachdesk.phishing.classify import Watch
from breachdesk.phishing.message import MessageCheck, MessageChecker, Policy
from breachdesk.phishing.signatures import PublicKey
from breachdesk.services.phishing import check_json
from breachdesk.settings import SHORTENERS

VERDICTS = {"authentic", "lookalike", "unauthenticated", "suspicious"}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    folder = tmp_path_factory.mktemp("keys")
    create_key(folder, "bd2026")
    return Signer.load(folder, "example.com", "bd2026")


@pytest.fixture(scope="module")
def engine(signer: Signer) -> MessageChecker:
    key = PublicKey("bd2026", dns_record(signer.key).encode(), None, None)
    policy = Policy(Watch(["example.com"]), {"bd2026": key}, frozenset(),
                    frozenset(SHORTENERS), "Example")  # fmt: skip
    return MessageChecker(policy)


def message(
    text: str = "",
    html: str = "",
    sender: str = "Notices <notices@mail-service.net>",
    **headers: str,
) -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = "reader@example.org"
    mail["Subject"] = "Your account"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text or "Hello.")
    if html:
        mail.add_alternative(html, subtype="html")
    return mail.as_bytes()


def genuine(signer: Signer, text: str = "") -> bytes:
    body = text or (
        "We are writing about a security incident.\n"
        "Type https://example.com/security/notice into your browser and enter your reference.\n"
        "We will never ask you for your password.\n"
    )
    return signer.sign(message(body, sender="Example Security <security@example.com>"))


def has(result: MessageCheck, fragment: str) -> bool:
    return any(fragment in reason for reason in result.reasons)


def test_a_signed_message_of_ours_is_authentic(engine: MessageChecker, signer: Signer) -> None:
    result = engine.check(genuine(signer))
    assert result.verdict == "authentic", result.reasons


LINKS = [
    # (text part, HTML part, verdict, a reason)
    ("Sign in at https://192.0.2.7/login", "", "suspicious", "a link goes to an IP address"),
    ("", '<a href="http://3221225985/">here</a>', "suspicious", "IP address (3221225985)"),
    ("Details: https://bit.ly/3xYzQ", "", "suspicious", "a shortened link (bit.ly)"),
    ("", '<a href="https://evil.net">https://example.com/security</a>', "lookalike",
     "a link shows example.com but goes to evil.net"),
    ("", '<a href="https://evil.net/a">www.other-site.org</a>', "suspicious",
     "a link shows www.other-site.org but goes to evil.net"),
    ("", '<a href="https://example.com@evil.net/">account</a>', "lookalike",
     "a link shows example.com before an @ but goes to evil.net"),
    ("", '<a href="javascript:alert(1)">open</a>', "suspicious", "runs a script"),
    ("", '<form action="https://collect.evil.net/p"><input name=x></form>', "suspicious",
     "collect.evil.net, not an official domain"),
    ("", '<img src="https://pixel.tracker.net/p.gif">', "suspicious", "pixel.tracker.net"),
    ("Log in at examp1e-security.com today.", "", "lookalike", "the text names examp1e-security.com"),
    ("", '<a href="https://examp1e.com/x">Example</a>', "lookalike", "a link goes to examp1e.com"),
    ("", '<a href="mailto:help@examp1e.com">write</a>', "lookalike", "examp1e.com, a lookalike"),
    ("", '<a href="//evil.net/x">x</a>', "suspicious", "a link goes to evil.net"),
    ("", '<a href="&#x68;ttps://evil.net/">x</a>', "suspicious", "a link goes to evil.net"),
    ("", '<a href="https:\\\\evil.net\\x">x</a>', "suspicious", "a link goes to evil.net"),
    ("Go to https://ex%61mple-login.com now", "", "lookalike", "example-login.com"),
    ("Go to https://xn--exmple-4nf.com now", "", "lookalike", "exаmple.com (xn--exmple-4nf.com)"),
    ("Visit www.evil-site.net/login", "", "suspicious", "evil-site.net"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "html", "verdict", "reason"), LINKS)
def test_links_in_every_form(
    engine: MessageChecker, text: str, html: str, verdict: str, reason: str
) -> None:
    result = engine.check(message(text, html))
    assert result.verdict == verdict, result.reasons
    assert has(result, reason), result.reasons


def test_links_in_a_signed_message_of_ours_still_count(
    engine: MessageChecker, signer: Signer
) -> None:
    """Our own signature vouches for the sender, not for a link to elsewhere."""
    data = genuine(signer, "Please read https://partner-site.net/info\n")
    result = engine.check(data)
    assert result.verdict == "suspicious" and has(result, "partner-site.net")
    official = engine.check(genuine(signer, "Read https://help.example.com/notice\n"))
    assert official.verdict == "authentic"
    assert [(h.host, h.official) for h in official.links] == [("help.example.com", True)]


ASKS = [
    ("en", "Please confirm your password at the page below.", "a password"),
    ("en", "Enter the verification code we sent to your phone.", "a code"),
    ("en", "Reply with your API key so we can rotate it.", "a key or token"),
    ("en", "To keep your account, pay the security fee by card.", "a payment"),
    ("ro", "Vă rugăm să introduceți parola pentru a vă debloca contul.", "a password"),
    ("ro", "Trimiteți-ne codul primit prin SMS.", "a code"),
    ("ro", "Trimiteți codul primit prin SMS.", "a code"),
    ("ro", "Confirmați datele cardului pentru a evita suspendarea.", "a payment"),
    ("de", "Bitte geben Sie Ihr Passwort ein, um Ihr Konto zu entsperren.", "a password"),
    ("de", "Senden Sie uns den Bestätigungscode aus der SMS.", "a code"),
    ("de", "Bestätigen Sie Ihre Kreditkartendaten.", "a payment"),
    ("de", "Übermitteln Sie Ihren API-Schlüssel an unser Team.", "a key or token"),
    ("ja", "アカウントを保護するため、パスワードを入力してください。", "a password"),
    ("ja", "SMSで届いた認証コードを返信してください。", "a code"),
    ("ja", "本日中にカード番号を送信してください。", "a payment"),
    ("ja", "APIキーを送って下さい。", "a key or token"),
]
LANGUAGE = {"en": "English", "ro": "Romanian", "de": "German", "ja": "Japanese"}
NOT_ASKING = [
    "We will never ask you for your password, your MFA codes or your API keys.",
    "Change your password and replace any API keys or access tokens you use with us.",
    "Never share your password with anyone.",
    "Enter the reference BD-7KQ4M-2XPAR on our website.",
    "What was not exposed: passwords, access tokens or API keys; payment card numbers.",
    "Nu vă vom cere niciodată parola, codurile MFA sau cheile API.",
    "Schimbați-vă parola și înlocuiți cheile API.",
    "Wir werden Sie nie nach Ihrem Passwort, Ihren MFA-Codes oder Ihren API-Schlüsseln fragen.",
    "Ändern Sie Ihr Passwort und ersetzen Sie alle API-Schlüssel.",
    "Geben Sie niemals Ihr Passwort weiter.",
    "当社がパスワード、MFAコード、APIキーをお尋ねすることは決してありません。",
    "パスワードを変更し、APIキーを再発行してください。",
    "参照番号を入力してください。",
]


@pytest.mark.parametrize(("language", "text", "what"), ASKS)
def test_requests_for_secrets_and_payment(
    engine: MessageChecker, language: str, text: str, what: str
) -> None:
    result = engine.check(message(text))
    assert result.verdict == "suspicious", result.reasons
    assert f"it asks for {what} ({LANGUAGE[language]})" in result.reasons


@pytest.mark.parametrize("text", NOT_ASKING)
def test_advice_and_warnings_are_not_requests(text: str) -> None:
    assert find_asks([text]) == []


def test_the_senders_name(engine: MessageChecker) -> None:
    shown = engine.check(message(sender='"security@example.com" <alerts@mailer-x.net>'))
    assert shown.verdict == "lookalike"
    assert has(shown, "the sender's name shows example.com but the address is at mailer-x.net")
    company = engine.check(message(sender="Example Security Team <alerts@mailer-x.net>"))
    assert company.verdict == "unauthenticated"
    assert has(company, "the sender's name says Example")
    nobody = engine.check(message(sender=""))
    assert nobody.verdict == "unauthenticated" and has(nobody, "no From address")


def test_an_attachment_is_suspicious(engine: MessageChecker, signer: Signer) -> None:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = "Example Security <security@example.com>"
    mail["Subject"] = "Notice"
    mail.set_content("See the attached form.")
    mail.add_attachment(b"<form>", maintype="text", subtype="html", filename="form.html")
    result = engine.check(signer.sign(mail.as_bytes()))
    assert result.verdict == "suspicious" and has(result, "an attachment (.html)")


def _node(depth: int) -> st.SearchStrategy[bytes]:
    headers = st.lists(
        st.sampled_from([
            b"Content-Type: text/plain; charset=utf-8", b"Content-Type: text/html; charset=x-nope",
            b"Content-Type: text/html", b"Content-Type: message/rfc822",
            b"Content-Type: text/plain; charset=\"latin-1\"", b"Content-Type: application/pdf",
            b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
            b"Content-Transfer-Encoding: x-unknown", b"Content-Disposition: attachment",
            b"Content-Disposition: inline; filename*=utf-8''%ZZ", b"Content-Type: multipart/mixed",
            b"From: =?utf-8?b?broken?= <a@b>", b"Reply-To: <@>", b"Content-Type: text/html; charset=",
        ]),
        max_size=3,
    )  # fmt: skip
    payload = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from(
            [
                b"<a href='https://evil.net'>https://example.com</a>",
                b"=ZZ=\r\n",
                b"aGVsbG8=====",
                b"<![x[",
                b"https://[::1",
                b"http://%zz/",
            ]
        ),
    )
    leaf = st.tuples(headers, payload).map(lambda hp: b"\r\n".join(hp[0]) + b"\r\n\r\n" + hp[1])
    if depth == 0:
        return leaf
    children = st.lists(_node(depth - 1), max_size=3)

    def multipart(args: tuple[str, list[bytes], bool]) -> bytes:
        subtype, parts, close = args
        boundary = b"b" + str(depth).encode()
        body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
        end = b"--" + boundary + b"--\r\n" if close else b""
        return (b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary
                + b'"\r\n\r\n' + body + end)  # fmt: skip

    return st.one_of(
        leaf,
        st.tuples(
            st.sampled_from(["mixed", "alternative", "related"]), children, st.booleans()
        ).map(multipart),
    )


def _assert_answer(result: MessageCheck) -> None:
    assert result.verdict in VERDICTS
    assert result.reasons and all(isinstance(r, str) for r in result.reasons)
    orjson.dumps(check_json(result))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_never_raises_on_arbitrary_bytes(engine: MessageChecker, data: bytes) -> None:
    _assert_answer(engine.check(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=60), max_size=6), _node(3))
def test_never_raises_on_mime_structures(
    engine: MessageChecker, headers: list[bytes], tree: bytes
) -> None:
    data = (
        b"From: Someone <a@example.net>\r\n"
        + b"\r\n".join(h.replace(b"\r", b"").replace(b"\n", b"") for h in headers)
        + b"\r\nMIME-Version: 1.0\r\n"
        + tree
    )
    _assert_answer(engine.check(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_changed_letter_in_the_body_is_never_authentic(
    engine: MessageChecker, signer: Signer, data: st.DataObject
) -> None:
    signed = genuine(signer)
    start = signed.index(b"\r\n\r\n") + 4
    letters = [i for i in range(start, len(signed)) if chr(signed[i]).isalpha()]
    where = data.draw(st.sampled_from(letters))
    swap = data.draw(
        st.sampled_from([c for c in b"abcdefghijklmnopqrstuvwxyzXQ" if c != signed[where]])
    )
    changed = signed[:where] + bytes([swap]) + signed[where + 1 :]
    assert engine.check(changed).verdict != "authentic"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_flipped_bytes_anywhere_never_raise(
    engine: MessageChecker, signer: Signer, data: st.DataObject
) -> None:
    signed = bytearray(genuine(signer))
    for _ in range(data.draw(st.integers(1, 5))):
        where = data.draw(st.integers(0, len(signed) - 1))
        signed[where] = data.draw(st.integers(0, 255))
    _assert_answer(engine.check(bytes(signed)))


def test_deeply_nested_multiparts(engine: MessageChecker) -> None:
    depth = 3000
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    data = (
        b"From: a@example.net\r\nMIME-Version: 1.0\r\n"
        + head
        + b"Content-Type: text/plain\r\n\r\nhi"
    )
    result = engine.check(data)
    _assert_answer(result)


def test_a_thousand_links(engine: MessageChecker) -> None:
    html = "".join(f'<p><a href="https://host{i}.links-host.net/p">link {i}</a></p>'
                   for i in range(1000))  # fmt: skip
    text = "\n".join(f"https://t{i}.other-links.org/x" for i in range(1000))
    started = time.perf_counter()
    result = engine.check(message(text, html))
    assert time.perf_counter() - started < 10
    assert result.verdict == "suspicious"
    assert len(result.links) == 2000 and not any(h.official for h in result.links)


def test_a_forwarded_message_attached_is_read_too(engine: MessageChecker, signer: Signer) -> None:
    """A phishing link inside an attached message counts: a mail client shows it."""
    inner = message("", '<a href="https://examp1e.com/login">sign in</a>')
    outer = EmailMessage(policy=SMTP)
    outer["From"] = "Reader <reader@example.org>"
    outer["Subject"] = "Fwd: is this real?"
    outer.set_content("Is this from you?")
    outer.add_attachment(inner, maintype="message", subtype="rfc822")
    result = engine.check(outer.as_bytes())
    assert result.verdict == "lookalike", result.reasons


def test_check_speed_is_reasonable(engine: MessageChecker, signer: Signer, tmp_path: Path) -> None:
    data = genuine(signer)
    started = time.perf_counter()
    for _ in range(20):
        assert engine.check(data).verdict == "authentic"
    assert time.perf_counter() - started < 10  # the benchmark measures; this only guards
