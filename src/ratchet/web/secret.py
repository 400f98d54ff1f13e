"""The session secret: from ``RATCHET_WEB_SECRET``, else made once and kept owner-only.

There is no default secret. On first start a random Fernet key is written to
``<state_dir>/web-secret`` with mode 0600 (created with that mode: never readable by others, not
even for a moment); later starts read it back, so sessions survive a restart. A file readable by
group or others is refused rather than trusted.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet

SECRET_VARIABLE = "RATCHET_WEB_SECRET"
SECRET_FILE = "web-secret"
MIN_SECRET_BYTES = 32


class SecretError(RuntimeError):
    """The secret is unusable: too short, malformed, or its file is readable by others."""


def session_secret(state_dir: Path, environ: dict[str, str] | None = None) -> bytes:
    """The 32-byte key that encrypts session cookies (see the module docstring)."""
    env = os.environ if environ is None else environ
    given = env.get(SECRET_VARIABLE)
    if given:
        return _from_text(given, SECRET_VARIABLE)
    path = state_dir / SECRET_FILE
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretError(
                f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
            )
        return _from_text(path.read_text(encoding="ascii").strip(), str(path))
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
    return base64.urlsafe_b64decode(key)


def _from_text(text: str, origin: str) -> bytes:
    """The 32 key bytes of a Fernet key (urlsafe base64 of 32 bytes)."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) == MIN_SECRET_BYTES:
        return raw
    raise SecretError(
        f"the session secret in {origin} is not a Fernet key (urlsafe base64 of 32 bytes); "
        'make one with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"'
    )
