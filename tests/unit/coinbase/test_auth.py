"""JWT auth for Coinbase: loading keys, signing tokens, and the simulator's verifier."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ratchet.coinbase.auth import (
    AuthFailure,
    Credentials,
    CredentialsError,
    credentials_from_env,
    format_uri,
    generate_test_credentials,
    load_credentials,
    load_key_file,
    rest_jwt,
    write_key_file,
    ws_jwt,
)
from ratchet.coinbase.jwt_verify import JwtVerifier

KEY_NAME = "organizations/0c1f9a2e-org/apiKeys/5a6b7c8d-key"
HOST = "api.coinbase.com"
PATH = "/api/v3/brokerage/accounts"
NOW = 1_700_000_000.0


# -- helpers ---------------------------------------------------------------------------------


def _sec1(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _pkcs8(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_der(creds: Credentials) -> bytes:
    return creds.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _body_fragment(pem: str) -> str:
    """A distinctive run of the PEM's base64 body: what must never leak."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return body[20:44]


def _forge(creds: Credentials, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A token signed by ``creds`` with exactly these claims and extra header fields."""
    return jwt.encode(claims, creds.private_key, algorithm=creds.algorithm, headers=header)


def _good_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": int(NOW),
        "exp": int(NOW) + 120,
        "uri": f"GET {HOST}{PATH}",
    }
    claims.update(changes)
    return claims


def _good_header(**changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"kid": KEY_NAME, "nonce": "ab" * 32}
    header.update(changes)
    return header


@pytest.fixture
def creds() -> Credentials:
    return generate_test_credentials(KEY_NAME)[0]


@pytest.fixture
def verifier(creds: Credentials) -> JwtVerifier:
    return JwtVerifier.for_credentials(creds)


# -- signing and verifying -------------------------------------------------------------------


def test_a_rest_token_round_trips_through_the_verifier(
    creds: Credentials, verifier: JwtVerifier
) -> None:
    # Arrange
    token = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Act
    claims = verifier.verify_rest(token, "GET", HOST, PATH, NOW)
    # Assert
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": int(NOW),
        "exp": int(NOW) + 120,
        "uri": "GET api.coinbase.com/api/v3/brokerage/accounts",
    }


def test_a_websocket_token_round_trips_and_carries_no_uri(
    creds: Credentials, verifier: JwtVerifier
) -> None:
    # Arrange
    token = ws_jwt(creds, NOW)
    # Act
    claims = verifier.verify_ws(token, NOW)
    # Assert
    assert claims == {"sub": KEY_NAME, "iss": "cdp", "nbf": int(NOW), "exp": int(NOW) + 120}


def test_the_header_names_the_algorithm_type_key_and_a_64_hex_nonce(creds: Credentials) -> None:
    # Act
    header = jwt.get_unverified_header(rest_jwt(creds, "GET", HOST, PATH, NOW))
    # Assert
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    assert header["kid"] == KEY_NAME
    assert len(header["nonce"]) == 64
    assert int(header["nonce"], 16) >= 0


def test_the_uri_claim_has_no_scheme_and_no_query_string(
    creds: Credentials, verifier: JwtVerifier
) -> None:
    # Arrange
    path = "/api/v3/brokerage/orders/historical/batch?limit=10&product_ids=BTC-USD"
    # Act
    token = rest_jwt(creds, "get", "https://api.coinbase.com", path, NOW)
    # Assert
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["uri"] == "GET api.coinbase.com/api/v3/brokerage/orders/historical/batch"
    verifier.verify_rest(token, "GET", HOST, "/api/v3/brokerage/orders/historical/batch", NOW)


def test_format_uri_keeps_a_port_and_drops_a_fragment() -> None:
    # Act
    uri = format_uri("post", "http://127.0.0.1:8080/", "/api/v3/brokerage/orders#x")
    # Assert
    assert uri == "POST 127.0.0.1:8080/api/v3/brokerage/orders"


def test_two_tokens_for_the_same_request_differ_by_their_nonce(creds: Credentials) -> None:
    # Act
    first = rest_jwt(creds, "GET", HOST, PATH, NOW)
    second = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Assert
    assert first != second
    nonces = {jwt.get_unverified_header(token)["nonce"] for token in (first, second)}
    assert len(nonces) == 2


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (-5.0, None),  # 5 s of clock skew is tolerated before nbf
        (-5.5, "not yet valid"),
        (0.0, None),
        (124.9, None),  # 5 s of clock skew is tolerated after exp
        (125.0, "expired"),
        (3600.0, "expired"),
    ],
)
def test_tokens_are_valid_from_nbf_to_exp_with_five_seconds_of_leeway(
    creds: Credentials, verifier: JwtVerifier, offset: float, reason: str | None
) -> None:
    # Arrange
    token = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Act / Assert
    if reason is None:
        verifier.verify_rest(token, "GET", HOST, PATH, NOW + offset)
    else:
        with pytest.raises(AuthFailure) as failure:
            verifier.verify_rest(token, "GET", HOST, PATH, NOW + offset)
        assert failure.value.reason == reason


def test_a_signature_over_a_tampered_payload_is_refused(
    creds: Credentials, verifier: JwtVerifier
) -> None:
    # Arrange: swap the payload for one with a different uri, keep the signature
    header, _, signature = rest_jwt(creds, "GET", HOST, PATH, NOW).split(".")
    claims = _good_claims(uri=f"POST {HOST}/api/v3/brokerage/orders")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{payload}.{signature}"
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(tampered, "POST", HOST, "/api/v3/brokerage/orders", NOW)
    # Assert
    assert failure.value.reason == "bad signature"


def test_a_token_signed_by_another_key_under_a_known_name_is_refused(
    verifier: JwtVerifier,
) -> None:
    # Arrange
    impostor, _ = generate_test_credentials(KEY_NAME)
    token = rest_jwt(impostor, "GET", HOST, PATH, NOW)
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(token, "GET", HOST, PATH, NOW)
    # Assert
    assert failure.value.reason == "bad signature"


def test_a_token_from_an_unknown_key_name_is_refused(verifier: JwtVerifier) -> None:
    # Arrange
    stranger, _ = generate_test_credentials("organizations/other/apiKeys/stranger")
    token = ws_jwt(stranger, NOW)
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_ws(token, NOW)
    # Assert
    assert failure.value.reason == "unknown key"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", PATH),
        ("GET", "/api/v3/brokerage/orders"),
        ("GET", "/api/v3/brokerage/accounts/abc"),
    ],
)
def test_a_token_for_another_request_is_refused(
    creds: Credentials, verifier: JwtVerifier, method: str, path: str
) -> None:
    # Arrange
    token = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(token, method, HOST, path, NOW)
    # Assert
    assert failure.value.reason == "uri mismatch"


def test_a_websocket_token_is_refused_for_a_rest_request(
    creds: Credentials, verifier: JwtVerifier
) -> None:
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(ws_jwt(creds, NOW), "GET", HOST, PATH, NOW)
    # Assert
    assert failure.value.reason == "missing uri"


def test_a_token_without_a_nonce_is_refused(creds: Credentials, verifier: JwtVerifier) -> None:
    # Arrange
    token = _forge(creds, _good_claims(), {"kid": KEY_NAME})
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(token, "GET", HOST, PATH, NOW)
    # Assert
    assert failure.value.reason == "missing nonce"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (_good_claims(iss="coinbase-cloud"), "bad issuer"),
        (_good_claims(sub="organizations/x/apiKeys/y"), "subject mismatch"),
        (_good_claims(exp=int(NOW) + 121), "lifetime too long"),
        (_good_claims(exp=int(NOW)), "bad lifetime"),
        ({k: v for k, v in _good_claims().items() if k != "nbf"}, "missing nbf or exp"),
    ],
    ids=["issuer", "subject", "too-long", "zero-lifetime", "no-nbf"],
)
def test_tokens_with_wrong_claims_are_refused_with_their_reason(
    creds: Credentials, verifier: JwtVerifier, claims: dict[str, Any], reason: str
) -> None:
    # Arrange
    token = _forge(creds, claims, _good_header())
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(token, "GET", HOST, PATH, NOW)
    # Assert
    assert failure.value.reason == reason


def test_an_hmac_token_is_refused_as_a_bad_algorithm(verifier: JwtVerifier) -> None:
    # Arrange
    token = jwt.encode(_good_claims(), "x" * 64, algorithm="HS256", headers=_good_header())
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_rest(token, "GET", HOST, PATH, NOW)
    # Assert
    assert failure.value.reason == "bad algorithm"


def test_a_malformed_token_is_refused(verifier: JwtVerifier) -> None:
    # Act
    with pytest.raises(AuthFailure) as failure:
        verifier.verify_ws("not.a.token", NOW)
    # Assert
    assert failure.value.reason == "malformed token"


def test_the_verifier_refuses_a_public_key_coinbase_does_not_use() -> None:
    # Arrange
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    # Act / Assert
    with pytest.raises(ValueError, match="P-256 or Ed25519"):
        JwtVerifier({KEY_NAME: p384})


# -- loading keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["sec1", "pkcs8"])
def test_sec1_and_pkcs8_ec_pems_load_as_es256(form: str) -> None:
    # Arrange
    key = ec.generate_private_key(ec.SECP256R1())
    pem = _sec1(key) if form == "sec1" else _pkcs8(key)
    # Act
    creds = load_credentials(KEY_NAME, pem)
    # Assert
    assert creds.key_name == KEY_NAME
    assert creds.algorithm == "ES256"
    assert creds.public_key().public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pem: pem.replace("\n", "\\n"),
        lambda pem: '"' + pem.replace("\n", "\\n") + '"',
        lambda pem: "  '" + pem + "'\n",
        lambda pem: pem.replace("\n", "\r\n"),
        lambda pem: pem.replace("\n", "\\\\n"),
        lambda pem: pem.replace("\n", " "),
    ],
    ids=["escaped", "escaped-quoted", "single-quoted", "crlf", "double-escaped", "spaces"],
)
def test_a_pem_mangled_by_env_files_still_loads(mangle: Any) -> None:
    # Arrange
    original, pem = generate_test_credentials(KEY_NAME)
    # Act
    creds = load_credentials(f' "{KEY_NAME}" ', mangle(pem))
    # Assert
    assert creds.key_name == KEY_NAME
    assert _public_der(creds) == _public_der(original)


@pytest.mark.parametrize(
    "encode",
    [
        lambda key: base64.b64encode(
            key.private_bytes_raw() + key.public_key().public_bytes_raw()
        ).decode(),
        lambda key: base64.b64encode(key.private_bytes_raw()).decode(),
        _pkcs8,
    ],
    ids=["raw-64-bytes", "raw-32-bytes", "pkcs8-pem"],
)
def test_ed25519_keys_load_and_sign_eddsa_tokens(encode: Any) -> None:
    # Arrange
    key = ed25519.Ed25519PrivateKey.generate()
    creds = load_credentials(KEY_NAME, encode(key))
    verifier = JwtVerifier({KEY_NAME: key.public_key()})
    # Act
    token = rest_jwt(creds, "GET", HOST, PATH, NOW)
    # Assert
    assert creds.algorithm == "EdDSA"
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert verifier.verify_rest(token, "GET", HOST, PATH, NOW)["sub"] == KEY_NAME


def test_an_ec_key_on_another_curve_is_refused_with_the_curve_named() -> None:
    # Arrange
    pem = _sec1(ec.generate_private_key(ec.SECP384R1()))
    # Act
    with pytest.raises(CredentialsError) as error:
        load_credentials(KEY_NAME, pem)
    # Assert
    message = str(error.value)
    assert "CB_API_SECRET" in message
    assert "secp384r1" in message
    assert "P-256" in message
    assert _body_fragment(pem) not in message


def _damaged(pem: str) -> str:
    lines = pem.splitlines()
    return "\n".join([lines[0], lines[1][:30], lines[-1]])


def _public_pem(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _encrypted_pem(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda pem: "this-is-not-a-keyZZsecretZZvalue!", "neither a PEM private key"),
        (lambda pem: base64.b64encode(b"k" * 48).decode(), "base64 of 48 bytes"),
        (_damaged, "cannot be decoded"),
        (lambda pem: pem.rsplit("-----END", 1)[0], "no matching '-----END"),
        (_public_pem, "is a public key"),
        (_encrypted_pem, "encrypted"),
        (lambda pem: KEY_NAME, "holds a key name"),
    ],
    ids=["garbage", "wrong-length", "damaged", "truncated", "public", "encrypted", "swapped"],
)
def test_a_bad_secret_is_refused_with_a_specific_message_that_hides_it(
    mangle: Any, fragment: str
) -> None:
    # Arrange
    _, pem = generate_test_credentials(KEY_NAME)
    secret = mangle(pem)
    # Act
    with pytest.raises(CredentialsError) as error:
        load_credentials(KEY_NAME, secret)
    # Assert
    text = str(error.value) + repr(error.value)
    assert fragment in text
    assert "CB_API_SECRET" in text
    assert _body_fragment(pem) not in text
    assert "ZZsecretZZ" not in text
    assert error.value.__cause__ is None


def test_an_rsa_key_is_refused_as_the_wrong_kind() -> None:
    # Arrange
    pem = _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    # Act
    with pytest.raises(CredentialsError) as error:
        load_credentials(KEY_NAME, pem)
    # Assert
    assert "holds a private key of type RSA; Coinbase keys are EC P-256" in str(error.value)


@pytest.mark.parametrize(
    ("api_key", "api_secret", "variable"),
    [
        (None, "PEM", "CB_API_KEY"),
        ("   ", "PEM", "CB_API_KEY"),
        (KEY_NAME, None, "CB_API_SECRET"),
        (KEY_NAME, ' "" ', "CB_API_SECRET"),
    ],
    ids=["key-missing", "key-blank", "secret-missing", "secret-empty-quotes"],
)
def test_a_missing_variable_is_named_in_the_message(
    api_key: str | None, api_secret: str | None, variable: str
) -> None:
    # Arrange
    _, pem = generate_test_credentials(KEY_NAME)
    secret = pem if api_secret == "PEM" else api_secret
    # Act
    with pytest.raises(CredentialsError) as error:
        load_credentials(api_key, secret)
    # Assert
    assert str(error.value).startswith(f"{variable} is not set")
    assert _body_fragment(pem) not in str(error.value)


def test_a_private_key_in_the_key_name_variable_is_refused_without_echoing_it() -> None:
    # Arrange
    _, pem = generate_test_credentials(KEY_NAME)
    # Act
    with pytest.raises(CredentialsError) as error:
        load_credentials(pem, pem)
    # Assert
    assert "CB_API_KEY holds a private key" in str(error.value)
    assert "swapped" in str(error.value)
    assert _body_fragment(pem) not in str(error.value)


def test_credentials_come_from_cb_api_key_and_cb_api_secret() -> None:
    # Arrange
    original, pem = generate_test_credentials(KEY_NAME)
    environ = {"CB_API_KEY": KEY_NAME, "CB_API_SECRET": pem.replace("\n", "\\n")}
    # Act
    creds = credentials_from_env(environ)
    # Assert
    assert creds.key_name == KEY_NAME
    assert _public_der(creds) == _public_der(original)


def test_an_empty_environment_names_cb_api_key() -> None:
    # Act / Assert
    with pytest.raises(CredentialsError, match=r"^CB_API_KEY is not set"):
        credentials_from_env({})


def test_credentials_never_show_the_private_key() -> None:
    # Arrange
    _, pem = generate_test_credentials(KEY_NAME)
    creds = load_credentials(KEY_NAME, pem)
    pkcs8_body = _body_fragment(_pkcs8(creds.private_key))
    # Act
    shown = repr(creds) + str(creds)
    # Assert
    assert "<hidden>" in shown
    assert KEY_NAME in shown
    assert _body_fragment(pem) not in shown
    assert pkcs8_body not in shown


def test_credentials_refuse_an_algorithm_that_does_not_fit_the_key() -> None:
    # Arrange
    key = ed25519.Ed25519PrivateKey.generate()
    # Act / Assert
    with pytest.raises(CredentialsError, match="needs 'EdDSA'"):
        Credentials(KEY_NAME, key, "ES256")


def test_generated_test_credentials_come_with_their_sec1_pem() -> None:
    # Act
    creds, pem = generate_test_credentials(KEY_NAME)
    # Assert
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert _public_der(load_credentials(KEY_NAME, pem)) == _public_der(creds)


# -- key files -------------------------------------------------------------------------------


def test_a_key_file_round_trips_and_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    # Arrange
    original, pem = generate_test_credentials(KEY_NAME)
    path = tmp_path / "cdp_api_key.json"
    # Act
    write_key_file(path, KEY_NAME, pem)
    creds = load_key_file(path)
    # Assert
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"name": KEY_NAME, "privateKey": pem}
    assert creds.key_name == KEY_NAME
    assert _public_der(creds) == _public_der(original)


def test_rewriting_an_open_key_file_makes_it_owner_only(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "key.json"
    path.write_text("{}")
    path.chmod(0o644)
    _, pem = generate_test_credentials(KEY_NAME)
    # Act
    write_key_file(path, KEY_NAME, pem)
    # Assert
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "does not exist"),
        ('{"name": "n", "privateKey": "PEM', "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"privateKey": "PEM"}', "has no 'name'"),
        ('{"name": "n"}', "has no 'privateKey'"),
        ('{"name": "n", "privateKey": 42}', "has no 'privateKey'"),
        ('{"name": "n", "privateKey": "garbageZZsecretZZ"}', "'privateKey' in key file"),
    ],
    ids=["missing", "bad-json", "not-object", "no-name", "no-key", "key-not-text", "bad-key"],
)
def test_a_bad_key_file_is_refused_with_a_clear_message(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    # Arrange
    _, pem = generate_test_credentials(KEY_NAME)
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content.replace("PEM", pem.replace("\n", "\\n")))
    # Act
    with pytest.raises(CredentialsError) as error:
        load_key_file(path)
    # Assert
    message = str(error.value)
    assert fragment in message
    assert str(path) in message
    assert _body_fragment(pem) not in message
    assert "ZZsecretZZ" not in message
