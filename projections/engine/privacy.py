"""Personal data at rest in the read models: sealed values, blind indexes, the key's fingerprint.

With ``CONVENTIONS_CIPHER_KEY`` the event store encrypts every event payload; the read models must
not then hold the same personal fields in clear. A ``Sealer`` built from that key gives them:

- ``seal`` / ``open``: deterministic authenticated encryption of one value (SIV construction:
  the IV is HMAC-SHA256 of the column's name and the value, the value is encrypted with AES-256 in
  CTR mode from that IV, and the IV is the tag checked on opening). Deterministic on purpose: a
  replay writes the same bytes, so ``verify`` still compares tables row for row; the price is that
  two equal values of one column have equal ciphertexts (the blind index reveals that anyway).
- ``token``: a blind index (HMAC-SHA256, truncated to 96 bits) of a normalised value, so a query
  can still find a row by an exact value (an RPPS, a word of a name) without the value being stored.
- ``open_event``: the history read model keeps each event as the log holds it (encrypted by the
  event store, eventsourcing's ``AESCipher``); this opens it on read.

Each use has its own key, derived from the configured key with HKDF-SHA256 (never one key for two
algorithms). ``fingerprint`` names the key in the tracking table without revealing it: a generation
written with another key, or without one, is rebuilt (``Runner._current_schema``).

pycryptodome (installed with ``eventsourcing[crypto]``) provides AES and HKDF; HMAC is the stdlib's.
"""

from __future__ import annotations

import hmac
from base64 import b64decode, b64encode
from typing import Any

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

TAG = 16  # bytes of the SIV tag (128 bits)
TOKEN = 12  # bytes of a blind index token (96 bits: no collision in any realistic portfolio)
MAX_OPENED = 50_000  # opened values kept in memory (a list sorted by name opens every name)


class SealedValueError(ValueError):
    """A sealed value that does not open: damaged, or sealed with another key."""


class Sealer:
    """Seals and opens the personal values of the read models with keys derived from the cipher key."""

    def __init__(self, cipher_key: str) -> None:
        key = b64decode(cipher_key)
        AESCipher.check_key_size(len(key))
        self._log = AESCipher(Environment(env={"CIPHER_KEY": cipher_key}))

        def derive(label: str) -> bytes:
            return HKDF(key, 32, b"cpam-conventions", SHA256, context=f"read models: {label}".encode())  # type: ignore[return-value]

        self._enc, self._mac, self._index = derive("encryption"), derive("seal tag"), derive("blind index")
        self.fingerprint = derive("fingerprint")[:8].hex()
        self._opened: dict[tuple[str, str], str] = {}

    @classmethod
    def of(cls, cipher_key: str | None) -> Sealer | None:
        return None if not cipher_key else cls(cipher_key)

    @classmethod
    def for_cipher(cls, cipher: Any) -> Sealer | None:
        """The sealer of an event store's cipher (eventsourcing's ``AESCipher``), None without one."""
        if cipher is None:
            return None
        if not isinstance(cipher, AESCipher):
            raise TypeError(f"read models can be sealed only with eventsourcing's AESCipher, not {type(cipher)}")
        return cls(b64encode(cipher.key).decode())

    def same_key(self, cipher: Any) -> bool:
        return isinstance(cipher, AESCipher) and hmac.compare_digest(cipher.key, self._log.key)

    def seal(self, column: str, value: str) -> str:
        """``value`` encrypted and authenticated for ``column`` (base64 text)."""
        plain = value.encode()
        tag = hmac.digest(self._mac, column.encode() + b"\0" + plain, "sha256")[:TAG]
        body = AES.new(self._enc, AES.MODE_CTR, nonce=b"", initial_value=_counter(tag)).encrypt(plain)
        return b64encode(tag + body).decode()

    def open(self, column: str, sealed: str) -> str:
        """The value ``seal(column, value)`` sealed; ``SealedValueError`` if it was altered."""
        known = self._opened.get((column, sealed))
        if known is not None:
            return known
        raw = b64decode(sealed)
        tag, body = raw[:TAG], raw[TAG:]
        plain = AES.new(self._enc, AES.MODE_CTR, nonce=b"", initial_value=_counter(tag)).decrypt(body)
        if not hmac.compare_digest(tag, hmac.digest(self._mac, column.encode() + b"\0" + plain, "sha256")[:TAG]):
            raise SealedValueError(f"a sealed value of {column} does not open: altered, or sealed with another key")
        value = plain.decode()
        if len(self._opened) >= MAX_OPENED:
            self._opened.clear()
        self._opened[(column, sealed)] = value
        return value

    def token(self, kind: str, value: str) -> str:
        """The blind index of a normalised ``value`` of ``kind`` (hex): equal values, equal tokens."""
        return hmac.digest(self._index, kind.encode() + b"\0" + value.encode(), "sha256")[:TOKEN].hex()

    def open_event(self, stored: str) -> bytes:
        """An event's JSON state from the base64 of its bytes in the log (encrypted by the event store)."""
        return self._log.decrypt(b64decode(stored))


def _counter(tag: bytes) -> bytes:
    """The CTR initial counter from the tag, top bit cleared so that the counter never wraps."""
    return bytes([tag[0] & 0x7F]) + tag[1:]


def stored_form(data: bytes | memoryview) -> str:
    """How the history keeps an event's stored bytes in a text column."""
    return b64encode(data).decode()
