"""Endpoint credentials: both keys open an endpoint and nothing else does; aml_token tokens expire
and belong to one endpoint (services/endpoint_keys.py: the KeyRing the gateway checks)."""

from __future__ import annotations

import time

from ferry.services.endpoint_keys import EndpointCredentials, KeyRing, issue_token


def test_both_keys_open_and_nothing_else_does() -> None:
    creds = EndpointCredentials.generate()
    ring = KeyRing("ep1", "key", creds)
    assert ring.check(f"Bearer {creds.primary_key}".encode())
    assert ring.check(f"Bearer {creds.secondary_key}".encode())
    assert ring.check(creds.primary_key.encode())  # some Azure samples omit the scheme
    assert not ring.check(None)
    assert not ring.check(b"Bearer nope")
    rotated = creds.regenerate("secondary")
    assert rotated.primary_key == creds.primary_key
    assert not KeyRing("ep1", "key", rotated).check(f"Bearer {creds.secondary_key}".encode())


def test_tokens_expire_and_belong_to_one_endpoint() -> None:
    creds = EndpointCredentials.generate()
    ring = KeyRing("ep1", "aml_token", creds)
    fresh = issue_token("ep1", creds.token_secret)["access_token"]
    assert ring.check(f"Bearer {fresh}".encode())
    assert not ring.check(f"Bearer {creds.primary_key}".encode())  # keys do not open aml_token
    stale = issue_token("ep1", creds.token_secret, now=time.time() - 7200)["access_token"]
    assert not ring.check(f"Bearer {stale}".encode())
    other = issue_token("ep2", creds.token_secret)["access_token"]
    assert not ring.check(f"Bearer {other}".encode())
    forged = issue_token("ep1", EndpointCredentials.generate().token_secret)["access_token"]
    assert not ring.check(f"Bearer {forged}".encode())
