"""Enrollment token secrets: generation, storage hash and the non-secret lookup key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "et_"
TOKEN_RANDOM_BYTES = 32
LOOKUP_KEY_CHARS = 8

# token_urlsafe(32) yields 43 characters of the URL-safe base64 alphabet.
_TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}$")


def new_token_secret() -> str:
    """Return a new enrollment token secret: `et_` and 256 random bits, URL-safe."""
    # The prefix makes a leaked token recognisable to people and to secret scanners.
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def is_token_secret(value: str) -> bool:
    """Tell whether a string has the shape of an enrollment token secret."""
    return _TOKEN_RE.fullmatch(value) is not None


def hash_token(secret: str) -> str:
    """Return the SHA-256 hex digest under which a token secret is stored."""
    # The secret is 256 random bits, so a fast hash is enough; a slow one only costs CPU.
    return hashlib.sha256(secret.encode()).hexdigest()


def token_lookup_key(secret: str) -> str:
    """Return the indexed, non-secret part of a token (`et_` plus its first 8 characters)."""
    # Rows are found by this key and then confirmed with token_matches(), so the database index
    # is never probed with the full hash, and admins can tell tokens apart without the secret.
    if not is_token_secret(secret):
        raise ValueError("not an enrollment token secret")
    return secret[: len(TOKEN_PREFIX) + LOOKUP_KEY_CHARS]


def token_matches(secret: str, stored_hash: str) -> bool:
    """Tell in constant time whether a presented token secret matches the stored hash."""
    return hmac.compare_digest(hash_token(secret), stored_hash)
