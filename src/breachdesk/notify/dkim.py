"""DKIM signatures (RFC 6376): rsa-sha256, and ed25519-sha256 (RFC 8463) as a second
signature, with relaxed/relaxed canonicalization, signed by ``cryptography`` (about 25 times
faster than a pure-Python signer), and the workspace's key store of DKIM keys.

Keys live in ``WORKSPACE/keys/dkim/<selector>.pem`` (PKCS #8, readable by the owner only);
:func:`dns_record` gives the TXT record to publish at ``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from breachdesk.errors import NoticeError
from breachdesk.private import write_private

KEY_BITS = 2048
# Signed headers; From appears twice so that a From added on the way breaks the signature.
SIGNED = (
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-language", "auto-submitted", "from",
)  # fmt: skip
_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")


def key_path(workspace: Path, selector: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}", selector):
        raise NoticeError(f"DKIM selector {selector!r} is not a DNS label")
    return workspace / "keys" / "dkim" / f"{selector}.pem"


def create_key(workspace: Path, selector: str, kind: str = "rsa") -> tuple[Path, bool]:
    """The selector's key, generated when missing (``kind`` rsa: RSA-2048, or ed25519);
    True when it was created."""
    path = key_path(workspace, selector)
    if path.exists():
        return path, False
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    write_private(path, pem)
    return path, True


@dataclass(frozen=True)
class Signer:
    domain: str
    selector: str
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def algorithm(self) -> str:
        return "ed25519-sha256" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "rsa-sha256"

    @classmethod
    def load(cls, workspace: Path, domain: str, selector: str) -> Signer:
        path = key_path(workspace, selector)
        if not path.is_file():
            raise NoticeError(
                f"{path}: no DKIM key for selector {selector!r}; "
                f"create one with: breachdesk notify keys {workspace}"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls(domain, selector, key)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < KEY_BITS:
            raise NoticeError(f"{path}: neither Ed25519 nor RSA of at least {KEY_BITS} bits")
        return cls(domain, selector, key)

    def dns_record(self) -> str:
        return dns_record(self.key)

    def sign(self, message: bytes, now: int | None = None) -> bytes:
        """``message`` (CRLF line endings) with a DKIM-Signature header in front."""
        head, sep, body = message.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a message needs a blank line between headers and body")
        body_hash = base64.b64encode(hashlib.sha256(canonical_body(body)).digest())
        fields = _header_fields(head)
        names: list[str] = []
        digest_input = bytearray()
        used: dict[str, int] = {}
        for name in SIGNED:
            found = [f for f in fields if f[0] == name]
            taken = used.get(name, 0)
            if taken < len(found):
                # instances are taken from the bottom up (RFC 6376 §5.4.2)
                digest_input += canonical_header(found[len(found) - 1 - taken][1]) + b"\r\n"
                used[name] = taken + 1
            names.append(name)
        tags = (
            f"v=1; a={self.algorithm}; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f"\tt={now if now is not None else int(time.time())}; h={':'.join(names)};\r\n"
            f"\tbh={body_hash.decode()};\r\n\tb="
        )
        unsigned = f"DKIM-Signature: {tags}".encode()
        digest_input += canonical_header(unsigned)
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            # RFC 8463: Ed25519 (pure) over the SHA-256 of the canonicalized headers
            signature = self.key.sign(hashlib.sha256(digest_input).digest())
        else:
            signature = self.key.sign(bytes(digest_input), padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(signature).decode()
        folded = "\r\n\t ".join(b64[i : i + 72] for i in range(0, len(b64), 72))
        return unsigned + folded.encode() + b"\r\n" + message


def dns_record(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def _header_fields(head: bytes) -> list[tuple[str, bytes]]:
    """(lower-cased name, the whole raw field) in order, folded lines kept together."""
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + b"\r\n" + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower().decode("ascii"), line))
    return fields


def canonical_header(raw: bytes) -> bytes:
    """Relaxed header canonicalization (RFC 6376 §3.4.2), without the final CRLF."""
    name, _, value = raw.partition(b":")
    value = _WSP.sub(b" ", _FOLD.sub(b"", value)).strip(b" ")
    return name.strip().lower() + b":" + value


def canonical_body(body: bytes) -> bytes:
    """Relaxed body canonicalization (RFC 6376 §3.4.4)."""
    if b"\t" not in body and b"  " not in body and b" \r\n" not in body and body[-1:] != b" ":
        # no whitespace to reduce (the usual case for quoted-printable): only the end changes
        bare = body.replace(b"\r\n", b"")
        if b"\r" not in bare and b"\n" not in bare:
            stripped = body.rstrip(b"\r\n")
            return stripped + b"\r\n" if stripped else b""
    lines = [_WSP.sub(b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)
