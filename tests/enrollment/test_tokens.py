import hashlib
import math
import string

import pytest

from enrollment.tokens import (
    hash_token,
    is_token_secret,
    new_token_secret,
    token_lookup_key,
    token_matches,
)

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def test_token_secret_is_prefixed_and_url_safe() -> None:
    secret = new_token_secret()

    assert secret.startswith("et_")
    assert set(secret[3:]) <= URL_SAFE
    assert is_token_secret(secret)


def test_token_secret_carries_at_least_160_random_bits() -> None:
    random_part = new_token_secret()[3:]

    assert len(random_part) * math.log2(64) >= 160
    assert len({new_token_secret() for _ in range(1000)}) == 1000


def test_hash_token_is_sha256_hex() -> None:
    secret = new_token_secret()

    assert hash_token(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert hash_token(secret) != hash_token(new_token_secret())


def test_token_matches() -> None:
    secret = new_token_secret()
    stored = hash_token(secret)

    assert token_matches(secret, stored)
    assert not token_matches(secret[:-1], stored)
    assert not token_matches(new_token_secret(), stored)


def test_lookup_key_is_a_short_prefix_of_the_secret() -> None:
    secret = new_token_secret()
    key = token_lookup_key(secret)

    assert key == secret[:11]
    assert len(secret) - len(key) >= 27  # at least 160 bits stay secret after the lookup key


@pytest.mark.parametrize("value", ["", "et_", "et_short", "xx_" + "a" * 43, "et_" + "a" * 42 + "!"])
def test_lookup_key_rejects_non_tokens(value: str) -> None:
    assert not is_token_secret(value)
    with pytest.raises(ValueError):
        token_lookup_key(value)
