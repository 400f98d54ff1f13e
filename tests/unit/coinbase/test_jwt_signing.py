"""Tokens signed with ``cryptography`` directly: equivalent to PyJWT's, checked by PyJWT."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ratchet.coinbase import auth
from ratchet.coinbase.auth import Credentials, CredentialsError, rest_jwt, ws_jwt
from ratchet.coinbase.jwt_verify import JwtVerifier

KEY_NAME = "organizations/0c1f9a2e-org/apiKeys/5a6b7c8d-key"
HOST = "api.coinbase.com"
PATH = "/api/v3/brokerage/orders/historical/batch"
NOW = 1_700_000_000.75
PINNED_NONCE = bytes(range(32))
_NO_TIME_CHECKS: jwt.types.Options = {"verify_exp": False, "verify_nbf": False}


def _es256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _eddsa_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


KEY_KINDS = pytest.mark.parametrize("make_key", [_es256_key, _eddsa_key], ids=["ES256", "EdDSA"])


def _creds(make_key: Callable[[], auth.PrivateKey], key_name: str = KEY_NAME) -> Credentials:
    return Credentials.from_private_key(key_name, make_key())


def _pyjwt_token(creds: Credentials, nonce: str, uri: str | None) -> str:
    """What the former ``jwt.encode`` path made for these credentials, time and nonce."""
    start = int(NOW)
    claims: dict[str, Any] = {"sub": creds.key_name, "iss": "cdp", "nbf": start, "exp": start + 120}
    if uri is not None:
        claims["uri"] = uri
    headers = {"typ": "JWT", "kid": creds.key_name, "nonce": nonce}
    return jwt.encode(claims, creds.private_key, algorithm=creds.algorithm, headers=headers)


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.fixture
def pinned_nonce(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make every token's nonce ``PINNED_NONCE``; returns its hex form."""
    monkeypatch.setattr(auth.secrets, "token_bytes", lambda n: PINNED_NONCE[:n])
    return PINNED_NONCE.hex()


@KEY_KINDS
def test_tokens_verify_with_pyjwt_and_with_the_simulators_verifier(
    make_key: Callable[[], auth.PrivateKey],
) -> None:
    # Arrange
    creds = _creds(make_key)
    verifier = JwtVerifier.for_credentials(creds)
    # Act
    rest = rest_jwt(creds, "GET", HOST, PATH, NOW)
    ws = ws_jwt(creds, NOW)
    # Assert
    for token in (rest, ws):
        claims = jwt.decode(
            token, creds.public_key(), algorithms=[creds.algorithm], options=_NO_TIME_CHECKS
        )
        assert claims["sub"] == KEY_NAME
    assert verifier.verify_rest(rest, "GET", HOST, PATH, NOW)["uri"] == f"GET {HOST}{PATH}"
    assert "uri" not in verifier.verify_ws(ws, NOW)


@KEY_KINDS
@pytest.mark.parametrize("kind", ["rest", "ws"])
def test_header_and_claims_are_the_bytes_pyjwt_made(
    make_key: Callable[[], auth.PrivateKey], kind: str, pinned_nonce: str
) -> None:
    # Arrange
    creds = _creds(make_key)
    uri = f"GET {HOST}{PATH}" if kind == "rest" else None
    expected = _pyjwt_token(creds, pinned_nonce, uri)
    # Act
    token = rest_jwt(creds, "GET", HOST, PATH, NOW) if kind == "rest" else ws_jwt(creds, NOW)
    # Assert: header and claims segments are byte-identical (only ECDSA signatures are random)
    assert token.split(".")[:2] == expected.split(".")[:2]
    assert jwt.get_unverified_header(token) == {
        "alg": creds.algorithm,
        "kid": KEY_NAME,
        "nonce": pinned_nonce,
        "typ": "JWT",
    }
    if creds.algorithm == "EdDSA":  # Ed25519 is deterministic: the whole token matches
        assert token == expected


@KEY_KINDS
def test_header_and_claim_sets_equal_pyjwts_apart_from_the_nonce(
    make_key: Callable[[], auth.PrivateKey],
) -> None:
    # Arrange
    creds = _creds(make_key)
    reference = _pyjwt_token(creds, "ab" * 32, f"GET {HOST}{PATH}")
    # Act
    token = rest_jwt(creds, "get", f"https://{HOST}/", f"{PATH}?limit=10", NOW)
    # Assert
    ours_header, their_header = (jwt.get_unverified_header(t) for t in (token, reference))
    assert ours_header.pop("nonce") != their_header.pop("nonce")
    assert ours_header == their_header
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in (token, reference)]
    assert claims[0] == claims[1]


def test_an_es256_signature_is_raw_r_and_s_of_32_bytes_each_not_der() -> None:
    # Arrange
    creds = _creds(_es256_key)
    public_key = creds.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    # Act
    token = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Assert
    signing_input, _, signature_b64 = token.rpartition(".")
    signature = _unb64(signature_b64)
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    der = encode_dss_signature(r, s)
    public_key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


def test_an_eddsa_signature_is_64_bytes_over_the_signing_input() -> None:
    # Arrange
    creds = _creds(_eddsa_key)
    public_key = creds.public_key()
    assert isinstance(public_key, ed25519.Ed25519PublicKey)
    # Act
    token = ws_jwt(creds, NOW)
    # Assert
    signing_input, _, signature_b64 = token.rpartition(".")
    signature = _unb64(signature_b64)
    assert len(signature) == 64
    public_key.verify(signature, signing_input.encode())


@KEY_KINDS
def test_tokens_made_in_the_same_second_have_different_fresh_nonces(
    make_key: Callable[[], auth.PrivateKey],
) -> None:
    # Arrange
    creds = _creds(make_key)
    # Act
    tokens = [rest_jwt(creds, "GET", HOST, PATH, NOW + i / 100) for i in range(20)]
    # Assert
    nonces = {jwt.get_unverified_header(token)["nonce"] for token in tokens}
    assert len(nonces) == len(tokens)
    for nonce in nonces:
        assert len(nonce) == 64
        assert nonce == nonce.lower()
        int(nonce, 16)


def test_no_segment_carries_base64_padding() -> None:
    # Arrange
    creds = _creds(_es256_key)
    # Act
    tokens = [rest_jwt(creds, "GET", HOST, PATH[: 20 + i], NOW) for i in range(6)]
    # Assert
    for token in tokens:
        assert "=" not in token
        assert token.count(".") == 2


def test_a_key_name_with_json_special_characters_is_escaped_in_header_and_claims() -> None:
    # Arrange
    name = 'organizations/o"rg\\é/apiKeys/k'
    creds = _creds(_eddsa_key, name)
    # Act
    token = ws_jwt(creds, NOW)
    # Assert
    assert jwt.get_unverified_header(token)["kid"] == name
    claims = jwt.decode(token, creds.public_key(), algorithms=["EdDSA"], options=_NO_TIME_CHECKS)
    assert claims["sub"] == name


@pytest.mark.parametrize(
    ("make_key", "fragment"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "not an EC P-256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "curve secp384r1"),
    ],
    ids=["rsa", "p384"],
)
def test_a_key_of_an_unsupported_type_is_refused_before_any_signing(
    make_key: Callable[[], Any], fragment: str
) -> None:
    # Act / Assert
    with pytest.raises(CredentialsError, match=fragment):
        Credentials.from_private_key(KEY_NAME, make_key())
