"""What the studio's core pages cost, against a real server (sign-in, overview, assets).

Registers a model whose folder holds N files (default 10,000) and 50 more model versions, then
times (median and p95 of R rounds, fresh connection each, so each request pays its connect):
- /api/v1/health (the floor: no session, no template);
- a page without the cookie (the gate's 303, answered from the headers);
- the overview (endpoints, the last 10 jobs, datastores);
- the models list (51 versions);
- the model version page, whose files section lists the first 200 of the N files;
- the last page of that listing (?offset=N-200);
- a file's preview page and its download.

Usage: .venv/bin/python bench/studio/core_pages.py [--files 10000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ferry import MLClient
from ferry.entities import Model
from ferry.local_workspace.launcher import server_status, start_background, stop_server
from ferry.local_workspace.layout import WorkspaceLayout
from ferry.settings import Settings


def _time(label: str, rounds: int, call: Callable[[], httpx.Response]) -> None:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 303), (label, response.status_code)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    print(f"{label:<42} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(workspace=Path(tmp) / "ws")
        start_background(settings)
        try:
            folder = Path(tmp) / "many"
            folder.mkdir()
            for i in range(args.files):
                (folder / f"file-{i:06d}.txt").write_text(f"{i}\n", encoding="utf-8")
            small = Path(tmp) / "small"
            small.mkdir()
            (small / "w.txt").write_text("w\n", encoding="utf-8")
            with MLClient(settings=settings) as ml:
                ml.models.create_or_update(Model(name="many", version="1", path=str(folder)))
                for v in range(50):
                    ml.models.create_or_update(Model(name="small", version=str(v), path=str(small)))
                login = ml.studio_url()
            info = server_status(settings)
            assert info is not None
            url = str(info["url"]).rstrip("/")
            token = WorkspaceLayout(settings.resolved_workspace).read_token()
            assert token
            with httpx.Client(timeout=60) as first:
                cookie = first.get(login).cookies["ferry_studio"]

            def get(path: str, *, signed_in: bool = True) -> Callable[[], httpx.Response]:
                def call() -> httpx.Response:
                    cookies = {"ferry_studio": cookie} if signed_in else {}
                    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
                        return client.get(path)

                return call

            print(
                f"{args.files} files in one model folder, 51 model versions; {args.rounds} rounds"
            )
            version = "/studio/assets/models/many/1"
            _time("health (floor)", args.rounds, get("/api/v1/health", signed_in=False))
            _time("page without the cookie (303)", args.rounds, get("/studio/", signed_in=False))
            _time("overview", args.rounds, get("/studio/"))
            _time("models list (51 versions)", args.rounds, get("/studio/assets/models"))
            _time("version page (first 200 files)", args.rounds, get(version))
            last = f"{version}?offset={max(args.files - 200, 0)}"
            _time("version page (last 200 files)", args.rounds, get(last))
            _time("file preview page", args.rounds, get(f"{version}/files/file-000042.txt"))
            _time("file download", args.rounds, get(f"{version}/raw/file-000042.txt?download=1"))
        finally:
            stop_server(settings)


if __name__ == "__main__":
    main()
