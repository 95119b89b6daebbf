"""Least exposure by default: private workspace files, /metrics behind a token off loopback,
a warning for plain HTTP on the network, and HTTPS when a certificate is given."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry.local_workspace.launcher import server_status
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings
from tests.conftest import running_server


def _url(settings: Settings) -> str:
    info = server_status(settings)
    assert info is not None
    return str(info["url"])


def _token(settings: Settings) -> str:
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    assert token is not None
    return token


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_metrics_are_open_on_loopback_without_a_metrics_token(server: Settings) -> None:
    assert httpx.get(_url(server) + "/metrics").status_code == 200


def test_only_health_is_open_in_the_api(server: Settings) -> None:
    url = _url(server)
    assert httpx.get(url + "/api/v1/health").status_code == 200
    for path in ("/api/openapi.json", "/api/v1/models", "/api/v1/jobs"):
        refused = httpx.get(url + path)
        assert refused.status_code == 401, path
        assert "missing Authorization header" in refused.json()["message"]
    assert httpx.get(url + "/api/docs").status_code in (401, 404)
    document = httpx.get(
        url + "/api/openapi.json", headers={"Authorization": f"Bearer {_token(server)}"}
    )
    assert document.status_code == 200 and "/api/v1/health" in document.json()["paths"]


def test_metrics_token_is_required_once_set(tmp_path: Path) -> None:
    for settings in running_server(tmp_path / "ws", metrics_token="scrape-secret"):
        url = _url(settings) + "/metrics"
        refused = httpx.get(url)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "FERRY_METRICS_TOKEN" in refused.json()["message"]
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for token in ("scrape-secret", _token(settings)):
            answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")


def test_non_loopback_bind_warns_and_guards_metrics(tmp_path: Path) -> None:
    for settings in running_server(tmp_path / "ws", host="0.0.0.0"):
        url = _url(settings)
        assert httpx.get(url + "/metrics").status_code == 401  # no metrics token: the workspace's
        headers = {"Authorization": f"Bearer {_token(settings)}"}
        assert httpx.get(url + "/metrics", headers=headers).status_code == 200
        log = WorkspaceLayout(settings.resolved_workspace).log_file.read_text()
        assert "reachable from other machines, over plain HTTP" in log
        assert "Set FERRY_SSL_CERTFILE and FERRY_SSL_KEYFILE, or put a TLS reverse proxy" in log


def test_loopback_bind_does_not_warn(server: Settings) -> None:
    log = WorkspaceLayout(server.resolved_workspace).log_file.read_text()
    assert "WARNING: Ferry listens" not in log


def test_fresh_workspace_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    for settings in running_server(root):
        api = httpx.Client(base_url=_url(settings), headers={"Authorization": "Bearer x"})
        with api:
            api.get("/api/v1/models")  # any request; the store is open by now
        layout = WorkspaceLayout(settings.resolved_workspace)
        assert _mode(layout.root) == 0o700
        for path in (root / "ferry.db", root / "ferry.db-wal", root / "ferry.db-shm"):
            assert path.exists() and _mode(path) == 0o600, path
        assert _mode(layout.log_file) == 0o600
        assert _mode(layout.token_file) == 0o600


def test_older_workspace_is_tightened_on_start(tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "logs").mkdir(parents=True)
    root.chmod(0o755)
    for name in ("ferry.db", "logs/server.log"):
        (root / name).touch()
        (root / name).chmod(0o644)
    for settings in running_server(root):
        assert _mode(settings.resolved_workspace) == 0o700
        assert _mode(root / "ferry.db") == 0o600
        assert _mode(root / "logs" / "server.log") == 0o600


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    yield certfile, keyfile


def test_server_speaks_https_with_a_certificate(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    certfile, keyfile = certificate
    for settings in running_server(tmp_path / "ws", ssl_certfile=certfile, ssl_keyfile=keyfile):
        url = _url(settings)
        assert url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(certfile))
        health = httpx.get(url + "/api/v1/health", verify=trust)
        assert health.json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):  # plain HTTP gets no answer from a TLS socket
            httpx.get(url.replace("https://", "http://") + "/api/v1/health")


def test_cli_trusts_the_certificate_named_by_ssl_cert_file(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    # The CLI and SDK use httpx, which reads SSL_CERT_FILE: that is how a client trusts a
    # self-signed or private-CA server (README, Security).
    import os
    import subprocess
    import sys

    certfile, keyfile = certificate
    for settings in running_server(tmp_path / "ws", ssl_certfile=certfile, ssl_keyfile=keyfile):
        command = [
            *(sys.executable, "-m", "ferry.cli.main"),
            *("--workspace", str(settings.resolved_workspace), "compute", "list"),
            *("--query", "[].name", "-o", "tsv"),
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        trusted = subprocess.run(
            command,
            env={**env, "SSL_CERT_FILE": str(certfile)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout.split() == ["local"]

        untrusted = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert untrusted.stderr.rstrip().endswith(
            "; set SSL_CERT_FILE to the server's certificate (or its CA) as a PEM file."
        ), untrusted.stderr
