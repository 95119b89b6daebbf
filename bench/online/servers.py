"""Start and stop the servers under test: a Ferry workspace server and azmlinfsrv (gunicorn).

Both are started by this bench and stopped by their own process ids (a process group for
azmlinfsrv, ``stop_server`` for Ferry), never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BATCHED_CONCURRENCY",
    "AzmlServer",
    "BareServer",
    "FerryServer",
    "Target",
    "cpu_seconds",
    "deploy_all",
    "process_tree",
]

_TICK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent
BATCHED_CONCURRENCY = 2  # max_concurrent_requests_per_instance of the batched deployment


@dataclass
class Target:
    """Where to send scoring requests, and the processes that serve them."""

    name: str
    url: str
    headers: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)  # role -> pid
    endpoint: str = ""  # Ferry's endpoint name (its /metrics labels); empty for azmlinfsrv


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process ((0, 0) if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AzmlServer:
    """``azmlinfsrv --entry_script score.py`` with ``WORKER_COUNT`` gunicorn sync workers."""

    def __init__(self, code: Path, log: Path, workers: int = 2) -> None:
        self.code = code
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Target:
        exe = Path(sys.executable).with_name("azmlinfsrv")
        if not exe.exists():
            raise SystemExit(f"{exe} is missing: run bench/online/setup.sh first")
        env = {**os.environ, "WORKER_COUNT": str(self.workers)}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(exe), "--entry_script", "score.py", "--port", str(self.port)],
                cwd=self.code,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one below
            )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"azmlinfsrv exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/", timeout=1.0).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"azmlinfsrv did not answer within {timeout:.0f} s; see {self.log}")
        # GET / answers once the master listens; wait until every worker has run init().
        while time.monotonic() < deadline:
            if self.log.read_text(errors="replace").count("ready for serving") >= self.workers:
                break
            time.sleep(0.2)
        return Target(
            "azmlinfsrv", base + "/score", {"Content-Type": "application/json"}, self.pids()
        )

    def pids(self) -> dict[str, int]:
        """azmlinfsrv's process is gunicorn's master; its children are the sync workers."""
        assert self.proc is not None
        tree = process_tree(self.proc.pid)
        return {"master": tree[0], **{f"worker-{i}": pid for i, pid in enumerate(tree[1:])}}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class BareServer:
    """The control: ``uvicorn bare_asgi:app``, one process, Ferry's uvicorn stack."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Target:
        exe = Path(sys.executable).with_name("uvicorn")
        argv = [str(exe), "bare_asgi:app", "--port", str(self.port), "--no-access-log"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*argv, "--log-level", "warning"],
                cwd=Path(__file__).parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{self.port}/score"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(url, content=b"{}", timeout=1.0)
                return Target(
                    "bare-uvicorn",
                    url,
                    {"Content-Type": "application/json"},
                    {"server": self.proc.pid},
                )
            time.sleep(0.1)
        raise RuntimeError(f"the bare uvicorn app did not answer; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class FerryServer:
    """A Ferry server for a fresh workspace, started by the SDK as a user's would be."""

    def __init__(self, workspace: Path, watched_gc_log: Path | None = None) -> None:
        """The SDK starts the server, as a user's first call would; with ``watched_gc_log``
        the bench starts it itself under ``gc_server.py`` (see there) and the SDK connects."""
        from ferry import MLClient
        from ferry.settings import Settings

        self.settings = Settings(workspace=workspace)
        self.proc: subprocess.Popen[bytes] | None = None
        if watched_gc_log is not None:
            self._start_watched(workspace, watched_gc_log)
        self.client = MLClient(settings=self.settings)

    def _start_watched(self, workspace: Path, gc_log: Path, timeout: float = 30.0) -> None:
        from ferry.local_workspace.launcher import server_status
        from ferry.local_workspace.layout import WorkspaceLayout

        layout = WorkspaceLayout(workspace)
        layout.ensure()
        env = {**os.environ, "FERRY_WORKSPACE": str(workspace), "FERRY_HOST": "127.0.0.1"}
        env.update({"FERRY_PORT": "0", "BENCH_GC_LOG": str(gc_log)})
        with layout.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "gc_server.py")],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = server_status(self.settings)
            if info and info.get("pid") == self.proc.pid:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the watched Ferry server did not start; see {layout.log_file}")

    @property
    def pid(self) -> int:
        from ferry.local_workspace.launcher import server_status

        info = server_status(self.settings)
        assert info is not None, "the Ferry server is not running"
        return int(info["pid"])

    def deploy(self, endpoint: str, code: Path, **fields: Any) -> Target:
        """An endpoint with one deployment ``blue`` (all traffic), in the server's interpreter."""
        from ferry import CodeConfiguration, ManagedOnlineDeployment, ManagedOnlineEndpoint

        ops = self.client.online_endpoints
        ops.begin_create_or_update(ManagedOnlineEndpoint(name=endpoint)).result()
        deployment = ManagedOnlineDeployment(
            name="blue",
            endpoint_name=endpoint,
            code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
            environment="ferry:server-python",
            **fields,
        )
        poller = self.client.online_deployments.begin_create_or_update(deployment, all_traffic=True)
        deployed = poller.result(timeout=180)
        keys = ops.get_keys(endpoint)
        uri = ops.get(endpoint).scoring_uri
        assert uri is not None
        headers = {
            "Authorization": f"Bearer {keys.primary_key}",  # type: ignore[union-attr]
            "Content-Type": "application/json",
        }
        pids = {"gateway": self.pid}
        pids.update({f"replica-{i}": int(r["pid"]) for i, r in enumerate(deployed.replicas)})
        return Target(f"ferry:{endpoint}", uri, headers, pids, endpoint)

    def metrics(self) -> str:
        return httpx.get(self.client.server_url + "/metrics", timeout=10).text

    def stop(self) -> None:
        from ferry.local_workspace.launcher import stop_server

        self.client.close()
        stop_server(self.settings)
        if self.proc is not None:
            self.proc.wait(15)


def deploy_all(ferry: FerryServer, extra_batch_sizes: tuple[int, ...] = ()) -> dict[str, Target]:
    """The three Ferry endpoints the bench measures, each with 2 replicas; ``mlp_b<n>`` for
    each extra ``max_batch_size`` (same wait and concurrency as ``mlp_batched``)."""
    from floor import BATCHING, TORCH_THREADS

    torch_env = {
        "BENCH_TORCH_THREADS": str(TORCH_THREADS),
        "OMP_NUM_THREADS": "1",
        "BENCH_MLP_HIDDEN": os.environ.get("BENCH_MLP_HIDDEN", "1024"),
    }
    # High enough that the gateway never answers 429 at 64 connections (it admits up to
    # 2 x this x instance_count) and a replica always has the next request waiting.
    unbatched = {"max_concurrent_requests_per_instance": 64}
    targets = {
        "ferry": ferry.deploy(
            "trivial", HERE / "trivial", instance_count=2, request_settings=unbatched
        ),
        "mlp_single": ferry.deploy(
            "mlp-single",
            HERE / "mlp",
            instance_count=2,
            environment_variables=torch_env,
            request_settings=unbatched,
        ),
        "mlp_batched": ferry.deploy(
            "mlp-batched",
            HERE / "mlp",
            instance_count=2,
            environment_variables=torch_env,
            # A replica holds the next batch while it scores one, so it never waits for the
            # gateway to answer a batch and collect the next (1 was slower in trial runs).
            request_settings={"max_concurrent_requests_per_instance": BATCHED_CONCURRENCY},
            batching=BATCHING,
        ),
    }
    for size in extra_batch_sizes:
        targets[f"mlp_b{size}"] = ferry.deploy(
            f"mlp-b{size}",
            HERE / "mlp",
            instance_count=2,
            environment_variables=torch_env,
            request_settings={"max_concurrent_requests_per_instance": BATCHED_CONCURRENCY},
            batching={**BATCHING, "max_batch_size": size},
        )
    return targets
