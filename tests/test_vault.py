"""ferry.vault: the workspace key file and Fernet secrets."""

from __future__ import annotations

import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

from ferry.errors import StoreError
from ferry.vault import Secret, Vault


def test_round_trip_and_key_file_created_private(tmp_path: Path) -> None:
    key_file = tmp_path / "ws" / "secret.key"
    vault = Vault(key_file)
    assert not key_file.exists()  # created on first use only

    token = vault.encrypt("s3cr3t-value")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"s3cr3t-value" not in token
    assert vault.decrypt(token) == "s3cr3t-value"
    assert Vault(key_file).decrypt(token) == "s3cr3t-value"  # the key persists
    assert vault.decrypt_secret(token).reveal() == "s3cr3t-value"
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no temp file left


def test_key_file_is_private_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Vault(tmp_path / "secret.key").encrypt("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    tokens: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(Vault(key_file).encrypt("v")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(Vault(key_file).decrypt(token) == "v" for token in tokens)


def test_wrong_key_says_so_without_the_value(tmp_path: Path) -> None:
    token = Vault(tmp_path / "a.key").encrypt("hunter2-password")

    with pytest.raises(StoreError) as err:
        Vault(tmp_path / "b.key").decrypt(token)
    assert err.value.message == (
        f"a stored secret cannot be decrypted: the workspace key '{tmp_path / 'b.key'}' does not "
        "match the key it was encrypted with (was the key file replaced?); restore the original "
        "key file or set the secret again"
    )
    assert "hunter2" not in str(err.value)


def test_damaged_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text("not-a-fernet-key")

    with pytest.raises(StoreError, match=r"'.*secret\.key' is not a valid key; restore it"):
        Vault(key_file).encrypt("x")


def test_secret_never_shows_its_value(tmp_path: Path) -> None:
    secret = Secret("hunter2-password")

    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr(Vault)]
    assert not any("hunter2" in text for text in shown)
    assert secret.reveal() == "hunter2-password"
    assert secret == Secret("hunter2-password")
    assert secret != Secret("other")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    token = Vault(tmp_path / "k").encrypt(secret)
    assert Vault(tmp_path / "k").decrypt(token) == "hunter2-password"
