"""The public notice check: genuine only for a reference together with the address it was
sent to (internationalised domains in either form), a published folder that holds no key,
the same time for every answer, the rate limit, and the commands that publish and serve."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from typer.testing import CliRunner

from breachdesk.cli import app as cli
from breachdesk.domain.identity import idna_domain, normalize_address
from breachdesk.errors import InputError
from breachdesk.services.verify import default_key_path, load, publish
from breachdesk.store import models as m
from breachdesk.web.verify import create_verify_app
from helpers import store_of, within

SENT = datetime(2026, 11, 26, 10, tzinfo=UTC)


@pytest.fixture
def sent(notify_ws: Path) -> list[tuple[str, str]]:
    """Every user notice marked sent; their (reference, address) pairs. One address is
    internationalised, as the directory may hold it."""
    store = store_of(notify_ws)
    with store.session() as session, session.begin():
        session.execute(
            update(m.Notice).where(m.Notice.kind == "user").values(status="sent", sent_at=SENT)
        )
        first = session.scalars(select(m.Notice).where(m.Notice.status == "sent")).first()
        assert first is not None
        first.email = "Victim@Straße.de"
        pairs = [(n.reference, n.email)
                 for n in session.scalars(select(m.Notice).where(m.Notice.status == "sent"))]  # fmt: skip
    store.close()
    assert len(pairs) >= 3
    return pairs


def _ask(client: TestClient, code: str, address: str) -> object:
    r = client.post("/api/check", json={"code": code, "address": address})
    assert r.status_code == 200, r.text
    return r.json()


def test_genuine_only_for_the_pair_it_was_sent_to(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    published = within(notify_ws, publish, tmp_path / "public")
    assert published.codes == len(sent)
    client = TestClient(create_verify_app(tmp_path / "public", per_minute=1000))
    (code, address), (other_code, other_address) = sent[1], sent[2]
    yes = {"genuine": True, "sent_on": "2026-11-26"}
    no = {"genuine": False, "sent_on": None}
    # typed as people type: case, spaces and hyphens in the code; case and spaces around
    assert _ask(client, code.lower().replace("-", " "), f"  {address.upper()} ") == yes
    # a real reference with another address — the phisher's borrowed stamp — is not genuine
    assert _ask(client, code, other_address) == no
    assert _ask(client, code, "someone@elsewhere.example") == no
    assert _ask(client, other_code, address) == no
    assert _ask(client, "BD-AAAAA-AAAAA", address) == no
    page = client.post("/", data={"code": code, "address": address})
    assert "Genuine" in page.text and "2026-11-26" in page.text and address not in page.text
    assert "Not a notice of ours" in client.post("/", data={"code": code,
                                                           "address": other_address}).text  # fmt: skip
    assert "Not a notice of ours" in client.post("/", data={"code": "<b>x</b>",
                                                           "address": "<i>"}).text  # fmt: skip
    too_long = client.post("/api/check", json={"code": "A" * 65, "address": address})
    assert too_long.status_code == 422
    assert client.post("/api/check", json={"code": code, "address": "a" * 321}).status_code == 422
    assert client.post("/", data={"code": "A" * 65, "address": address}).status_code == 422
    # the address never travels in a URL (proxies log those)
    assert client.get("/api/check", params={"code": code, "address": address}).status_code == 405


def test_an_international_address_in_either_form(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    code = sent[0][0]  # sent to Victim@Straße.de
    within(notify_ws, publish, tmp_path / "public")
    client = TestClient(create_verify_app(tmp_path / "public", per_minute=1000))
    for typed in ["victim@straße.de", "VICTIM@STRAẞE.DE", "victim@xn--strae-oqa.de",
                  "Victim@XN--STRAE-OQA.DE", "victim@stra\u00dfe.de "]:  # fmt: skip
        assert _ask(client, code, typed) == {"genuine": True, "sent_on": "2026-11-26"}, typed
    # strasse.de is another domain (IDNA 2008 keeps ß), whoever holds it
    assert _ask(client, code, "victim@strasse.de") == {"genuine": False, "sent_on": None}


def test_addresses_compare_as_matching_compares_them() -> None:
    assert normalize_address(" Alice@Example.ORG ") == "alice@example.org"
    assert normalize_address("a.b+tag@x.org") == "a.b+tag@x.org"  # no dot or tag removal
    assert normalize_address("e\u0301@x.org") == normalize_address("\u00e9@x.org")  # NFC
    assert normalize_address("v@ＥＸＡＭＰＬＥ.org") == "v@example.org"  # width, via UTS 46
    assert normalize_address("x@straße.de") == normalize_address("x@xn--strae-oqa.de")
    assert normalize_address("x@straße.de") != normalize_address("x@strasse.de")
    assert normalize_address("x@-not-idna-.de") == "x@-not-idna-.de"  # refused: casefolded


def test_the_published_folder_holds_no_key(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    out = tmp_path / "site" / "public"
    published = within(notify_ws, publish, out)
    assert published.key_path == default_key_path(out) == tmp_path / "site" / "public.key"
    assert published.key_path.stat().st_mode & 0o777 == 0o600
    key = load(out).key
    data = orjson.loads(published.path.read_bytes())
    assert set(data) == {"schema", "key_id", "codes"}
    encodings = [key, base64.b64encode(key), key.hex().encode(), base64.urlsafe_b64encode(key)]
    for file in out.rglob("*"):
        body = file.read_bytes()
        assert not any(e in body for e in encodings), file
        assert not any(ref.encode() in body or b"@" in body for ref, _ in sent), file
    # what the folder alone would let one compute is not what it holds: the hashes are keyed
    code, address = sent[1]
    pair = f"{code}\0{normalize_address(address)}".encode()
    unkeyed = {hashlib.sha256(pair).hexdigest(), hmac.new(b"", pair, "sha256").hexdigest(),
               hmac.new(data["key_id"].encode(), pair, "sha256").hexdigest()}  # fmt: skip
    assert not unkeyed & set(data["codes"])
    # without its key, or with a key others can read, or another publication's, nothing runs
    published.key_path.rename(tmp_path / "elsewhere.key")
    with pytest.raises(InputError, match="cannot read the key"):
        create_verify_app(out)
    os.chmod(tmp_path / "elsewhere.key", 0o644)
    with pytest.raises(InputError, match="readable by others"):
        load(out, tmp_path / "elsewhere.key")
    os.chmod(tmp_path / "elsewhere.key", 0o600)
    assert load(out, tmp_path / "elsewhere.key").codes == data["codes"]
    within(notify_ws, publish, tmp_path / "again", key_out=tmp_path / "again.key")
    with pytest.raises(InputError, match="not the key"):
        load(out, tmp_path / "again.key")
    with pytest.raises(InputError, match="inside the published folder"):
        within(notify_ws, publish, out, key_out=out / "verify.key")
    (out / "codes.json").write_bytes(orjson.dumps({"schema": "breachdesk.verify/1"}))
    with pytest.raises(InputError, match="publish again"):
        load(out, tmp_path / "elsewhere.key")


def test_every_answer_takes_the_same_time(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    within(notify_ws, publish, tmp_path / "public")
    client = TestClient(create_verify_app(tmp_path / "public", per_minute=100_000))
    (code, address), other = sent[1], sent[2][1]

    def timed(c: str, a: str) -> float:
        started = time.perf_counter()
        client.post("/api/check", json={"code": c, "address": a})
        return time.perf_counter() - started

    # interleaved, so that all see the same noise of a shared machine
    runs = [(timed(code, address), timed(code, other), timed("BD-AAAAA-AAAAA", address),
             timed("not a code at all", "not an address")) for _ in range(80)]  # fmt: skip
    medians = [sorted(r[i] for r in runs)[40] for i in range(4)]
    assert min(medians) >= 0.004  # every answer held to the floor
    # a real difference (a lookup skipped, a hash not computed) shows in every run; a shared
    # machine's noise moves all four alike, so the bound grows with the floor it measured
    assert max(medians) - min(medians) < max(0.002, 0.3 * min(medians)), medians


def test_each_client_has_its_allowance(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    within(notify_ws, publish, tmp_path / "public")
    code, address = sent[1]
    body = {"code": code, "address": address}
    limited = TestClient(create_verify_app(tmp_path / "public", per_minute=5))
    answers = [limited.post("/api/check", json=body).status_code for _ in range(8)]
    assert answers[:5] == [200] * 5 and answers[-1] == 429
    # behind a trusted proxy each reader has their own allowance; untrusted, the header is
    # ignored
    proxied = TestClient(create_verify_app(tmp_path / "public", 2, trust_proxy="*"))

    def ask(ip: str) -> int:
        headers = {"X-Forwarded-For": ip}
        return proxied.post("/api/check", json=body, headers=headers).status_code

    assert [ask("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert ask("198.51.100.2") == 200
    direct = TestClient(create_verify_app(tmp_path / "public", 2))
    codes = [direct.post("/api/check", json=body,
                         headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
             for i in range(3)]  # fmt: skip
    assert codes == [200, 200, 429]


def test_the_commands_publish_and_refuse(
    notify_ws: Path, sent: list[tuple[str, str]], tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "public"
    done = runner.invoke(cli, ["verify", "publish", str(notify_ws), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "public.key" in done.output and load(out).codes
    os.chmod(tmp_path / "public.key", 0o640)
    refused = runner.invoke(cli, ["verify", "serve", str(out), "--port", "1"])
    assert refused.exit_code == 2 and "readable by others" in refused.output
    missing = runner.invoke(cli, ["verify", "serve", str(out), "--key", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "cannot read the key" in missing.output


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_an_ascii_domain_takes_the_short_way_to_the_same_form(domain: str) -> None:
    assert normalize_address(f"a@{domain}") == f"a@{idna_domain(domain.rstrip())}"


@given(st.text(max_size=20), st.text(max_size=20))
def test_address_normalisation_is_idempotent(local: str, domain: str) -> None:
    once = normalize_address(f"{local}@{domain}")
    assert normalize_address(once) == once
