"""What the studio's online endpoint page costs, against a real server with a real replica.

Times (median and p95 of N rounds, fresh connection each):
- a scoring request straight to the scoring URL (the floor);
- the same request sent from the Test tab (session, CSRF, the in-process gateway, the page);
- the endpoint page, the metrics fragment the page polls every 2 s, and the Consume tab.

Usage: .venv/bin/python bench/studio/online_page.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ferry import CodeConfiguration, ManagedOnlineDeployment, ManagedOnlineEndpoint, MLClient
from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings

ECHO = """
import json

def init():
    pass

def run(raw):
    return {"echo": json.loads(raw)}
"""
ENDPOINT = "bench-studio"


def _time(rounds: int, call: Callable[[], httpx.Response]) -> tuple[float, float]:
    call()  # warm-up
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:500]
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp) / "ws")
        start_background(settings)
        try:
            _run(settings, Path(tmp), rounds)
        finally:
            stop_server(settings)


def _run(settings: Settings, tmp: Path, rounds: int) -> None:
    info = server_status(settings)
    assert info is not None
    url = str(info["url"]).rstrip("/")
    token = WorkspaceLayout(settings.resolved_workspace).read_token()
    code = tmp / "code"
    code.mkdir()
    (code / "score.py").write_text(textwrap.dedent(ECHO))
    with MLClient(settings=settings) as client:
        client.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name=ENDPOINT)
        ).result()
        deployment = ManagedOnlineDeployment(
            name="echo",
            endpoint_name=ENDPOINT,
            code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
            environment="ferry:server-python",
        )
        client.online_deployments.begin_create_or_update(deployment, all_traffic=True).result()
        key = client.online_endpoints.get_keys(ENDPOINT).primary_key  # type: ignore[union-attr]

    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=60, limits=no_keepalive) as http:
        minted = http.post(
            "/api/v1/studio/login-codes", headers={"Authorization": f"Bearer {token}"}
        )
        page = http.get(minted.json()["path"], follow_redirects=True)
        csrf = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text)
        assert csrf is not None
        base = f"/studio/online-endpoints/{ENDPOINT}"
        body = '{"data": [[1, 2, 3]]}'
        cases: dict[str, Callable[[], httpx.Response]] = {
            "scoring URL (floor)": lambda: http.post(
                f"/endpoints/{ENDPOINT}/score",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            ),
            "Test tab (send + page)": lambda: http.post(
                base + "/test",
                data={"csrf_token": csrf.group(1), "deployment": "echo", "body": body},
            ),
            "endpoint page": lambda: http.get(base),
            "metrics fragment": lambda: http.get(base + "/metrics"),
            "Consume tab": lambda: http.get(base, params={"tab": "consume"}),
        }
        print(f"{'':26} {'median ms':>10} {'p95 ms':>8}   ({rounds} rounds, fresh connections)")
        for name, call in cases.items():
            median, p95 = _time(rounds, call)
            print(f"{name:26} {median:10.2f} {p95:8.2f}")


if __name__ == "__main__":
    main()
