"""Does a message ask the reader for a password, a code, a key or a payment? In English,
Romanian, German and Japanese.

A sentence asks when it names such a thing, holds a verb that asks for it (enter, send,
confirm, pay; introduceți, trimiteți; geben Sie, bestätigen; 入力, 送信) and no negation
or warning (never, do not, distrust; nu, niciodată; nie, nicht, misstrauen; ません, ない,
決して): "We will never ask for your password" and "Change your password" do not ask;
"Confirm your password here" does. Each language's words are data below; a table test
holds true and false cases for each.

Words are matched whole, by set look-ups on each sentence's words (a regular expression
of every word tried at every letter cost ten times more): ``stem*`` is any word starting
so, ``*end`` any word ending so (German compounds: ``Bestätigungscode``), and an entry
with a space a phrase. Japanese, written without spaces, is matched by substrings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?;:。！？\n\u2022]+")
_WORD = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?")
# Romanian written with cedillas (ş, ţ) as often as with commas (ș, ț); curly apostrophes
_NORMAL = (("ş", "ș"), ("ţ", "ț"), ("\u2019", "'"))


class Words:
    """A set of words and phrases as described above, ready to test a sentence: whole
    words by set look-up, the rest (stems, ends, phrases) by one expression over the
    sentence's words joined by single spaces."""

    def __init__(self, entries: Iterable[str]) -> None:
        items = [e.casefold() for e in entries]
        self.exact = frozenset(e for e in items if " " not in e and "*" not in e)
        rest = [
            f" {re.escape(e[:-1])}" if e.endswith("*")
            else rf"\S{re.escape(e[1:])} " if e.startswith("*")
            else f" {re.escape(e)} "
            for e in items
            if " " in e or "*" in e
        ]  # fmt: skip
        self.rest = re.compile("|".join(rest)) if rest else None

    def found(self, words: frozenset[str], spaced: str) -> bool:
        """Whether the sentence (its ``words``, and the same joined by single spaces with a
        space at each end) holds one of these."""
        if not self.exact.isdisjoint(words):
            return True
        return self.rest is not None and self.rest.search(spaced) is not None


class Substrings:
    """For a language written without spaces: any of these substrings."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.pattern = re.compile("|".join(re.escape(e.casefold()) for e in entries))

    def found(self, words: frozenset[str], spaced: str) -> bool:
        return self.pattern.search(spaced) is not None


@dataclass(frozen=True)
class Language:
    code: str
    things: dict[str, tuple[str, ...]]  # what → words
    verbs: tuple[str, ...]
    negations: tuple[str, ...]
    ignore: tuple[str, ...] = ()  # phrases removed first ("reference code" is no secret)
    spaced: bool = True  # False: matched by substrings


LANGUAGES = (
    Language(
        "en",
        {
            "password": ("password", "passwords", "passcode", "passcodes", "passphrase", "pin",
                         "pins", "login details", "sign-in details", "account details",
                         "login credentials", "credentials"),
            "code": ("code", "codes", "otp", "otps", "one-time password", "one-time passcode"),
            "key": ("api key", "api keys", "api-key", "apikey", "access key", "secret key",
                    "private key", "recovery key", "access token", "api token",
                    "session token", "tokens", "seed phrase", "recovery phrase"),
            "payment": ("credit card", "debit card", "bank card", "gift card", "gift cards",
                        "card number", "card details", "cvv", "cvc", "bank account",
                        "bank details", "bank transfer", "iban", "routing number",
                        "wire transfer", "bitcoin", "btc", "crypto", "cryptocurrency",
                        "payment", "payments", "pay", "fee", "fees", "invoice", "invoices",
                        "fine"),
        },
        ("enter", "re-enter", "provide", "send", "submit", "confirm", "verify", "validate",
         "share", "type", "reply with", "respond with", "give us", "tell us", "update",
         "fill in", "fill out", "input", "forward", "pay", "purchase", "buy", "transfer",
         "wire", "click", "tap", "login", "log in", "sign in", "signin", "unlock",
         "reactivate"),
        ("never", "not", "don't", "do not", "won't", "will not", "no one", "nobody",
         "distrust", "beware", "ignore", "shouldn't", "should not"),
        ignore=("reference code", "reference number"),
    ),
    Language(
        "ro",
        {
            "password": ("parol*", "pin", "pin-ul", "date de autentificare",
                         "datele de autentificare", "date de logare", "datele de conectare"),
            "code": ("cod", "codul", "coduri", "codurile", "codului"),
            "key": ("cheia api", "cheile api", "cheia privată", "cheia secretă",
                    "cheile de acces", "token*"),
            "payment": ("card*", "iban", "cont bancar", "contul bancar", "date bancare",
                        "datele bancare", "plată", "plata", "plăți", "plăţi", "taxa", "taxă",
                        "taxei", "factur*", "bitcoin", "transfer bancar"),
        },
        ("introduceți", "introduceti", "introdu", "tastați", "tastati", "trimiteți",
         "trimiteti", "trimite", "trimiteți-ne", "trimiteti-ne", "confirmați", "confirmati",
         "confirmă", "verificați", "verificati", "furnizați", "furnizati", "comunicați",
         "comunicati", "răspundeți", "raspundeti", "actualizați", "actualizati",
         "completați", "completati", "plătiți", "platiti", "plătește", "achitați",
         "achitati", "transferați", "transferati", "virați", "virati", "accesați",
         "accesati", "autentificați-vă", "conectați-vă", "validați", "validati",
         "faceți clic", "faceti clic", "apăsați", "apasati"),
        ("nu", "niciodată", "niciodata", "nimeni", "nici", "neîncredere"),
    ),
    Language(
        "de",
        {
            "password": ("passwort", "passworts", "passwortes", "passwörter", "passwörtern",
                         "kennwort", "kennwörter", "pin", "zugangsdaten", "anmeldedaten",
                         "login-daten"),
            "code": ("*code", "*codes", "tan", "mtan", "pushtan"),
            "key": ("*schlüssel", "*schlüsseln", "*token", "*tokens"),
            "payment": ("*kreditkarte", "*kreditkarten", "kreditkartendaten", "kartennummer",
                        "bankdaten", "bankverbindung", "iban", "kontonummer", "*zahlung",
                        "*zahlungen", "zahlungsdaten", "überweisung", "gebühr", "gebühren",
                        "rechnung", "gutschein", "gutscheine", "bitcoin"),
        },
        ("geben sie", "eingeben", "einzugeben", "gib", "senden sie", "schicken sie",
         "sende", "schicke", "übermitteln", "bestätigen", "bestätige", "verifizieren",
         "verifiziere", "teilen sie", "mitteilen", "antworten sie", "aktualisieren",
         "zahlen sie", "bezahlen", "bezahle", "überweisen", "klicken sie", "klicke",
         "melden sie sich", "loggen sie sich"),
        ("nie", "niemals", "nicht", "kein", "keine", "keinen", "keinem", "niemand",
         "misstrauen"),
    ),
    Language(
        "ja",
        {
            "password": ("パスワード", "暗証番号", "ログイン情報", "認証情報", "ｐｉｎ"),
            "code": ("コード", "ワンタイム"),
            "key": ("apiキー", "api キー", "ａｐｉキー", "秘密鍵", "トークン", "リカバリー"),
            "payment": ("クレジットカード", "カード番号", "口座", "振込", "振り込", "支払",
                        "送金", "料金", "手数料", "ギフトカード", "ビットコイン", "請求"),
        },
        ("入力", "送信", "送って", "送付", "返信", "教えて", "ご提供", "提供して", "確認して",
         "認証して", "更新して", "お支払いください", "支払って", "振り込んで", "お振込",
         "ログインして", "クリック", "タップ", "アクセスして"),
        ("ません", "ない", "決して", "絶対に"),
        spaced=False,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """A sentence that asks for ``what`` (password, code, key, payment), in ``language``."""

    what: str
    language: str


def _sentences(texts: Iterable[str]) -> Iterable[str]:
    """Each distinct sentence (the text and HTML parts of a message say the same)."""
    seen: set[str] = set()
    for raw in texts:
        text = raw.casefold()
        for odd, usual in _NORMAL:  # str.replace: str.translate is slow on non-ASCII text
            if odd in text:
                text = text.replace(odd, usual)
        for sentence in _SENTENCE_END.split(text):
            if sentence and sentence not in seen:
                seen.add(sentence)
                yield sentence


@dataclass(frozen=True)
class _Compiled:
    language: Language
    verbs: Words | Substrings
    negations: Words | Substrings
    things: dict[str, Words | Substrings]


def _compile(language: Language) -> _Compiled:
    kind = Words if language.spaced else Substrings
    things = {what: kind(entries) for what, entries in language.things.items()}
    return _Compiled(language, kind(language.verbs), kind(language.negations), things)


_COMPILED = tuple(_compile(language) for language in LANGUAGES)


def _gate() -> re.Pattern[str]:
    """Every language's verbs in one expression: most sentences hold none, and are passed
    over after one search, before they are split into words."""
    spaced = sorted({v.casefold() for lang in LANGUAGES if lang.spaced for v in lang.verbs})
    unspaced = sorted({v.casefold() for lang in LANGUAGES if not lang.spaced for v in lang.verbs})
    words = "|".join(r"[\s-]+".join(map(re.escape, re.split(r"[ -]", v))) for v in spaced)
    return re.compile(rf"(?<![\w])(?:{words})(?![\w])|" + "|".join(map(re.escape, unspaced)))


_ANY_VERB = _gate()


def _words(tokens: list[str]) -> frozenset[str]:
    """The words, and the parts of hyphenated ones (``trimiteți-ne``, ``api-schlüssel``)."""
    return frozenset(tokens + [p for t in tokens if "-" in t for p in t.split("-")])


def find_asks(texts: Iterable[str]) -> list[Ask]:
    """Every (what, language) asked for in ``texts``, each once, in the order first met."""
    found: dict[Ask, None] = {}
    for sentence in _sentences(texts):
        if _ANY_VERB.search(sentence) is None:
            continue
        tokens = _WORD.findall(sentence)
        all_words = _words(tokens)
        spaced = f" {' '.join(tokens)} "
        for compiled in _COMPILED:
            language = compiled.language
            text = spaced if language.spaced else sentence
            words = all_words
            if not compiled.verbs.found(words, text) or compiled.negations.found(words, text):
                continue
            if language.ignore:
                for phrase in language.ignore:
                    text = text.replace(f" {phrase} ", " ")
                words = _words(_WORD.findall(text))
            for what, matcher in compiled.things.items():
                if matcher.found(words, text):
                    found.setdefault(Ask(what, language.code))
    return list(found)
