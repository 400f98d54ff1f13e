"""JWT authentication for Coinbase Advanced Trade (CDP API keys): credentials and signing.

Signing (the engine): :func:`load_credentials` / :func:`credentials_from_env` read the key name
and private key from ``CB_API_KEY`` / ``CB_API_SECRET`` (or :func:`load_key_file` from a CDP key
JSON file); :func:`rest_jwt` mints a fresh two-minute token per REST request and :func:`ws_jwt`
one per WebSocket subscribe message. Tokens are signed with ``cryptography`` directly (the JWS
parts a :class:`Credentials` never changes are prepared once, when it is made); PyJWT reads them
back in the verifier and the tests.

Verifying (the simulator) is in :mod:`ratchet.coinbase.jwt_verify`: :class:`JwtVerifier` checks
a token the way Coinbase does and raises :class:`AuthFailure` with a short reason.

The secret never appears in an exception message or a ``repr``: errors say which variable or
file is wrong and how, never its value, and library errors are not chained onto ours.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ENV_KEY: Final = "CB_API_KEY"
ENV_SECRET: Final = "CB_API_SECRET"
ISSUER: Final = "cdp"
TOKEN_LIFETIME: Final = 120  # seconds from nbf to exp; Coinbase refuses longer-lived tokens
LEEWAY: Final = 5.0  # seconds of clock skew the verifier tolerates on nbf and exp

Algorithm: TypeAlias = Literal["ES256", "EdDSA"]
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

ALGORITHMS: Final[frozenset[str]] = frozenset({"ES256", "EdDSA"})
_KEY_NAME_EXAMPLE: Final = "organizations/{org_id}/apiKeys/{key_id}"
_PEM_EXPECTED: Final = (
    "'-----BEGIN EC PRIVATE KEY-----' (SEC1) or '-----BEGIN PRIVATE KEY-----' (PKCS8)"
)
_ESCAPED_NEWLINE: Final = re.compile(r"\\+[nr]")
_PEM_BLOCK: Final = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_QUOTES: Final = "\"'"
_NONCE_BYTES: Final = 32  # 64 hex characters, as Coinbase's SDK sends
_ES256_HALF: Final = 32  # bytes of r and of s in a raw P-256 signature (RFC 7518 §3.4)


class CredentialsError(ValueError):
    """The API key name or private key is missing or malformed (the message never quotes it)."""


class AuthFailure(Exception):
    """A token the verifier refuses; ``reason`` is short, e.g. ``"expired"``."""

    def __init__(self, reason: str) -> None:
        """Keep ``reason`` as the message and as an attribute."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, eq=False, repr=False)
class Credentials:
    """A CDP API key: its name and private key (EC P-256 → ES256, Ed25519 → EdDSA).

    Compared by identity: private key objects have no value equality. The token signer is
    prepared once, here, from the key name and key.
    """

    key_name: str
    private_key: PrivateKey
    algorithm: Algorithm
    _signer: _TokenSigner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse an empty key name or an algorithm that does not fit the key."""
        if not self.key_name:
            raise CredentialsError(f"the key name is empty (expected {_KEY_NAME_EXAMPLE})")
        expected = _private_algorithm(self.private_key, "the private key")
        if self.algorithm != expected:
            raise CredentialsError(
                f"algorithm {self.algorithm!r} does not fit this private key (it needs "
                f"{expected!r})"
            )
        object.__setattr__(self, "_signer", _TokenSigner(self.key_name, self.private_key))

    @classmethod
    def from_private_key(cls, key_name: str, private_key: PrivateKey) -> Credentials:
        """Credentials whose algorithm is the one the key calls for."""
        return cls(key_name, private_key, _private_algorithm(private_key, "the private key"))

    def public_key(self) -> PublicKey:
        """The public half, for a :class:`JwtVerifier`."""
        return self.private_key.public_key()

    def __repr__(self) -> str:
        """Show the key name and algorithm; never the private key."""
        return (
            f"Credentials(key_name={self.key_name!r}, algorithm={self.algorithm!r}, "
            "private_key=<hidden>)"
        )


# --- loading -------------------------------------------------------------------------------


def load_credentials(api_key: str | None, api_secret: str | None) -> Credentials:
    """Credentials from the values of ``CB_API_KEY`` (key name) and ``CB_API_SECRET`` (key).

    The secret may be a PEM (SEC1 or PKCS8; EC P-256 or Ed25519) or raw base64 Ed25519 (32 or
    64 bytes). Surrounding whitespace and quotes are dropped and escaped ``\\n`` newlines, as
    ``.env`` files and container settings often leave them, are restored.
    """
    swapped = f" (are {ENV_KEY} and {ENV_SECRET} swapped?)"
    key_name = _key_name(api_key, ENV_KEY, swapped)
    if api_secret is None or not _unquote(api_secret):
        raise CredentialsError(
            f"{ENV_SECRET} is not set: it must hold the API key's private key, a PEM starting "
            f"with {_PEM_EXPECTED} or a base64 Ed25519 key"
        )
    key = _parse_private_key(api_secret, ENV_SECRET, swapped)
    return Credentials(key_name, key, _private_algorithm(key, ENV_SECRET))


def credentials_from_env(environ: Mapping[str, str]) -> Credentials:
    """Credentials from ``CB_API_KEY`` and ``CB_API_SECRET`` in ``environ`` (e.g. os.environ)."""
    return load_credentials(environ.get(ENV_KEY), environ.get(ENV_SECRET))


def load_key_file(path: str | os.PathLike[str]) -> Credentials:
    """Credentials from a CDP key JSON file: ``{"name": ..., "privateKey": ...}``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"key file {file} does not exist") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"key file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise CredentialsError(f"key file {file} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialsError(
            f"key file {file} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError(f"key file {file} must hold a JSON object with name and privateKey")
    name, secret = data.get("name"), data.get("privateKey")
    if not isinstance(name, str) or not name.strip():
        raise CredentialsError(f"key file {file} has no 'name' (expected {_KEY_NAME_EXAMPLE})")
    if not isinstance(secret, str) or not secret.strip():
        raise CredentialsError(f"key file {file} has no 'privateKey' (the PEM private key)")
    key_name = _key_name(name, f"'name' in key file {file}", "")
    source = f"'privateKey' in key file {file}"
    key = _parse_private_key(secret, source, "")
    return Credentials(key_name, key, _private_algorithm(key, source))


def generate_test_credentials(key_name: str) -> tuple[Credentials, str]:
    """A fresh EC P-256 key as credentials, and its SEC1 PEM (for the simulator and tests)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return Credentials(key_name, key, "ES256"), pem


def write_key_file(path: str | os.PathLike[str], key_name: str, pem: str) -> None:
    """Write a CDP-style key file readable by its owner only (mode 0600, even if it existed)."""
    payload = json.dumps({"name": key_name, "privateKey": pem}, indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode through os.open
        handle.write(payload)


def _unquote(value: str) -> str:
    return value.strip().strip(_QUOTES).strip()


def _key_name(value: str | None, source: str, swapped: str) -> str:
    name = _unquote(value) if value is not None else ""
    if not name:
        raise CredentialsError(
            f"{source} is not set: it must hold the API key name, e.g. {_KEY_NAME_EXAMPLE}"
        )
    if "-----BEGIN" in name or "PRIVATE KEY" in name:
        raise CredentialsError(f"{source} holds a private key, not the key name{swapped}")
    if any(char.isspace() for char in name):
        raise CredentialsError(
            f"{source} contains whitespace; a key name looks like {_KEY_NAME_EXAMPLE}"
        )
    return name


def _parse_private_key(secret: str, source: str, swapped: str) -> PrivateKey:
    text = _unquote(_ESCAPED_NEWLINE.sub("\n", secret))
    if "-----BEGIN" in text:
        return _load_pem(text, source)
    if text.startswith("organizations/"):
        raise CredentialsError(f"{source} holds a key name, not the private key{swapped}")
    return _load_raw_ed25519(text, source)


def _load_pem(text: str, source: str) -> PrivateKey:
    match = _PEM_BLOCK.search(text)
    if match is None:
        raise CredentialsError(
            f"{source} starts a PEM block but has no matching '-----END ...-----' line "
            "(truncated or mis-pasted?)"
        )
    label, body = match.group(1), match.group(2)
    if "ENCRYPTED" in label or "Proc-Type:" in body:
        raise CredentialsError(f"{source} is an encrypted key; export it without a passphrase")
    if "PUBLIC KEY" in label:
        raise CredentialsError(f"{source} is a public key; the private key is needed")
    if label not in ("EC PRIVATE KEY", "PRIVATE KEY"):
        raise CredentialsError(f"{source} is a PEM {label!r} block; expected {_PEM_EXPECTED}")
    # Rebuild the PEM from its base64 alone: tolerant of CRLF, spaces and lost line breaks.
    compact = "".join(body.split())
    lines = "\n".join(compact[start : start + 64] for start in range(0, len(compact), 64))
    pem = f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CredentialsError(
            f"{source} is a PEM private key that cannot be decoded (damaged or truncated?)"
        ) from None
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
    raise CredentialsError(
        f"{source} holds a private key of type {kind}; Coinbase keys are EC P-256 or Ed25519"
    )


def _load_raw_ed25519(text: str, source: str) -> PrivateKey:
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError(
            f"{source} is neither a PEM private key ({_PEM_EXPECTED}) nor a base64 Ed25519 key"
        ) from None
    if len(raw) not in (32, 64):
        raise CredentialsError(
            f"{source} is base64 of {len(raw)} bytes: a raw Ed25519 key has 32 or 64, and a "
            f"PEM starts with {_PEM_EXPECTED}"
        )
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])  # seed, then public half


def _private_algorithm(key: object, source: str) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise CredentialsError(
                f"{source} is an EC key on curve {key.curve.name}; Coinbase keys use P-256 "
                "(secp256r1, prime256v1)"
            )
        return "ES256"
    raise CredentialsError(f"{source} is not an EC P-256 or Ed25519 private key")


# --- signing -------------------------------------------------------------------------------


def format_uri(method: str, host: str, path: str) -> str:
    """The ``uri`` claim: ``"GET api.coinbase.com/api/v3/brokerage/accounts"``.

    No scheme and no query string: either is stripped if given.
    """
    bare_host = host.split("://", 1)[-1].rstrip("/")
    bare_path = path.split("?", 1)[0].split("#", 1)[0]
    if not bare_path.startswith("/"):
        bare_path = "/" + bare_path
    return f"{method.upper()} {bare_host}{bare_path}"


def rest_jwt(creds: Credentials, method: str, host: str, path: str, now: float) -> str:
    """A fresh token for one REST request (``Authorization: Bearer <token>``)."""
    return _sign(creds, now, format_uri(method, host, path))


def ws_jwt(creds: Credentials, now: float) -> str:
    """A fresh token for one WebSocket subscribe/unsubscribe message (no ``uri`` claim)."""
    return _sign(creds, now, None)


def _sign(creds: Credentials, now: float, uri: str | None) -> str:
    """Claims ``sub, iss, nbf, exp[, uri]`` (the order PyJWT kept), signed by ``creds``."""
    start = int(now)
    claims: dict[str, Any] = {
        "sub": creds.key_name,
        "iss": ISSUER,
        "nbf": start,
        "exp": start + TOKEN_LIFETIME,
    }
    if uri is not None:
        claims["uri"] = uri
    return creds._signer.token(claims)


def _b64url(data: bytes) -> bytes:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class _TokenSigner:
    """Compact JWS tokens for one key: the same bytes PyJWT's ``jwt.encode`` would make.

    The header ``{"alg","kid","nonce","typ"}`` (sorted, as PyJWT writes it) is precomputed
    around its nonce, which is fresh and random for every token.
    """

    __slots__ = ("_header_head", "_header_tail", "_sign")

    def __init__(self, key_name: str, key: PrivateKey) -> None:
        """Prepare the header's fixed parts and the signing call for ``key``."""
        algorithm = _private_algorithm(key, "the private key")
        self._header_head = (
            b'{"alg":' + orjson.dumps(algorithm) + b',"kid":' + orjson.dumps(key_name)
        ) + b',"nonce":"'
        self._header_tail = b'","typ":"JWT"}'
        self._sign: Callable[[bytes], bytes]
        if isinstance(key, ec.EllipticCurvePrivateKey):
            self._sign = _es256_signer(key)
        else:
            self._sign = key.sign

    def token(self, claims: Mapping[str, Any]) -> str:
        """``header.claims.signature``, each base64url; a fresh nonce in the header."""
        nonce = secrets.token_bytes(_NONCE_BYTES).hex().encode("ascii")
        signing_input = (
            _b64url(self._header_head + nonce + self._header_tail)
            + b"."
            + _b64url(orjson.dumps(claims))
        )
        return (signing_input + b"." + _b64url(self._sign(signing_input))).decode("ascii")


def _es256_signer(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """ECDSA P-256 over SHA-256, as JWS wants it: raw ``r || s``, 32 bytes each, not DER."""
    ecdsa = ec.ECDSA(hashes.SHA256())

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ecdsa))
        return r.to_bytes(_ES256_HALF, "big") + s.to_bytes(_ES256_HALF, "big")

    return sign
