"""The sealer of the read models' personal values (docs/privacy.md): deterministic, authenticated,
bound to its column and key; blind indexes equal for equal values only."""

from __future__ import annotations

from base64 import b64decode, b64encode

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

from projections.engine.privacy import SealedValueError, Sealer

KEY = AESCipher.create_key(16)


def test_a_sealed_value_opens_to_itself_and_is_the_same_each_time() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal("col", "Ségolène Quintavalle")
    assert "Quintavalle" not in sealed and sealed == Sealer(KEY).seal("col", "Ségolène Quintavalle")
    assert Sealer(KEY).open("col", sealed) == "Ségolène Quintavalle"
    assert sealer.seal("col", "Ségolène Quintavallf") != sealed


@pytest.mark.parametrize("how", ["other column", "other key", "altered byte"])
def test_a_sealed_value_does_not_open_elsewhere_or_altered(how: str) -> None:
    sealed = Sealer(KEY).seal("col", "10000000009")
    if how == "other column":
        with pytest.raises(SealedValueError):
            Sealer(KEY).open("other", sealed)
    elif how == "other key":
        with pytest.raises(SealedValueError):
            Sealer(AESCipher.create_key(16)).open("col", sealed)
    else:
        raw = bytearray(b64decode(sealed))
        raw[-1] ^= 1
        with pytest.raises(SealedValueError):
            Sealer(KEY).open("col", b64encode(bytes(raw)).decode())


def test_blind_indexes_and_fingerprints() -> None:
    a, b = Sealer(KEY), Sealer(AESCipher.create_key(16))
    assert a.token("rpps", "10000000009") == Sealer(KEY).token("rpps", "10000000009")
    assert a.token("rpps", "10000000009") not in {a.token("rpps", "10000000017"), a.token("name", "10000000009"),
                                                  b.token("rpps", "10000000009")}  # fmt: skip
    assert a.fingerprint == Sealer(KEY).fingerprint != b.fingerprint and KEY not in a.fingerprint


def test_the_history_opens_what_the_event_store_encrypted() -> None:
    stored = AESCipher(Environment(env={"CIPHER_KEY": KEY})).encrypt(b'{"doctor_name": "X"}')
    assert Sealer(KEY).open_event(b64encode(stored).decode()) == b'{"doctor_name": "X"}'
    assert Sealer(KEY).same_key(AESCipher(Environment(env={"CIPHER_KEY": KEY})))
