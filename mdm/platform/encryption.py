"""Secrets at rest (private keys, push credentials, unlock tokens): encrypted column values.

MultiFernet with the keys of ENCRYPTION_KEYS: the first key encrypts, every key decrypts, so
keys rotate (add a new first key, re-save, drop the old one).
"""

from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator


def vault() -> MultiFernet:
    """The app's MultiFernet: the first key encrypts, every key decrypts (so keys rotate)."""
    keys = current_app.config["ENCRYPTION_KEYS"]
    return MultiFernet([Fernet(key) for key in keys])


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes encrypted with the app's MultiFernet before they reach the database."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else vault().encrypt(value)

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else vault().decrypt(value)
