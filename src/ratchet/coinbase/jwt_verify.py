"""Verifying Coinbase JWTs as the exchange does (the simulator's side of :mod:`.auth`).

:class:`JwtVerifier` checks a token's algorithm, key, signature, nonce, subject, issuer, time
window and (for REST) its ``uri`` claim, and raises :class:`~ratchet.coinbase.auth.AuthFailure`
with a short reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeGuard

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ratchet.coinbase.auth import (
    ALGORITHMS,
    ISSUER,
    LEEWAY,
    TOKEN_LIFETIME,
    Algorithm,
    AuthFailure,
    Credentials,
    PublicKey,
    format_uri,
)

_DECODE_OPTIONS: Final[jwt.types.Options] = {
    "verify_exp": False,  # time windows are checked against the caller's `now`
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,  # checked below, to give a specific reason
    "verify_sub": False,
    "verify_jti": False,
}


class JwtVerifier:
    """Checks tokens as Coinbase does, against known key names and their public keys."""

    def __init__(self, keys: Mapping[str, PublicKey], *, leeway: float = LEEWAY) -> None:
        """Accept tokens signed by ``keys`` (key name → EC P-256 or Ed25519 public key)."""
        self._keys = {name: (key, _public_algorithm(key)) for name, key in keys.items()}
        self._leeway = leeway

    @classmethod
    def for_credentials(cls, *creds: Credentials, leeway: float = LEEWAY) -> JwtVerifier:
        """A verifier that knows the public halves of ``creds``."""
        return cls({c.key_name: c.public_key() for c in creds}, leeway=leeway)

    def verify_rest(
        self, token: str, method: str, host: str, path: str, now: float
    ) -> dict[str, Any]:
        """The claims of a valid REST token for this request, or :class:`AuthFailure`."""
        claims = self._verify(token, now)
        uri = claims.get("uri")
        if not isinstance(uri, str):
            raise AuthFailure("missing uri")
        if uri != format_uri(method, host, path):
            raise AuthFailure("uri mismatch")
        return claims

    def verify_ws(self, token: str, now: float) -> dict[str, Any]:
        """The claims of a valid WebSocket token, or :class:`AuthFailure`."""
        return self._verify(token, now)

    def _verify(self, token: str, now: float) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthFailure("malformed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AuthFailure("bad algorithm")
        kid = header.get("kid")
        known = self._keys.get(kid) if isinstance(kid, str) else None
        if known is None:
            raise AuthFailure("unknown key")
        key, expected_alg = known
        if alg != expected_alg:
            raise AuthFailure("bad algorithm")
        try:
            claims = jwt.decode(token, key, algorithms=[expected_alg], options=_DECODE_OPTIONS)
        except jwt.InvalidSignatureError:
            raise AuthFailure("bad signature") from None
        except jwt.InvalidTokenError:
            raise AuthFailure("malformed token") from None
        nonce = header.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise AuthFailure("missing nonce")
        if claims.get("sub") != kid:
            raise AuthFailure("subject mismatch")
        if claims.get("iss") != ISSUER:
            raise AuthFailure("bad issuer")
        self._check_times(claims.get("nbf"), claims.get("exp"), now)
        return claims

    def _check_times(self, nbf: object, exp: object, now: float) -> None:
        if not _is_number(nbf) or not _is_number(exp):
            raise AuthFailure("missing nbf or exp")
        if exp - nbf > TOKEN_LIFETIME:
            raise AuthFailure("lifetime too long")
        if exp <= nbf:
            raise AuthFailure("bad lifetime")
        if now < nbf - self._leeway:
            raise AuthFailure("not yet valid")
        if now >= exp + self._leeway:
            raise AuthFailure("expired")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _public_algorithm(key: object) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError("verifier keys must be EC P-256 or Ed25519 public keys")
