"""Ray compute: workers as Ray actors on the nodes of a Ray cluster.

The engine keeps everything that makes a job exactly-once: it listens on ``host:port`` (transport
``tcp``), hands out mini-batches over the socket and journals every result. Ray only places and
runs processes. Each worker is one actor (``num_cpus``/``num_gpus``/``memory`` from the
deployment's ``resources``; ``SPREAD`` over the nodes) that starts the worker process on its node;
the process dies with its actor. An actor whose worker ended stays warm for the next worker of
the same resources (:data:`IDLE_SECONDS`), so a warm cluster boots no Ray process. Ray's own
retries are off (``max_restarts=0``, ``max_task_retries=0``): a dead actor or a lost node is, for
the engine, a worker whose socket broke, and it retries that worker's mini-batches from the
journal within ``max_retries``, as on this machine. Ray never re-runs one.

What travels to a node:

* the code folder and the model folder (``AZUREML_MODEL_DIR``), by content hash: packed once
  per job by this process, put in Ray's object store, and unpacked once per hash on each node
  (``$FERRY_RAY_CACHE``, default ``/tmp/ferry-ray``), instead of a ``working_dir`` uploaded with
  every job;
* the job's data, when it is on a datastore: each actor's data agent
  (:mod:`ferry.workers.data_agent`) fetches its worker's items and commits its output files;
* the environment, by its recipe (the resolved requirements and policy the server built it
  from): a node where the server's interpreter is not at the same path builds the same hash with
  uv into ``$FERRY_RAY_CACHE/envs``, once per node (``FERRY_RAY_BUILD_ENVIRONMENTS=always``: every
  node builds even where the path is visible); a build that failed is remembered on its node for
  ``FERRY_RAY_FAILED_BUILD_TTL`` seconds, so later starts fail at once with its message;
* the worker runtime: the node's own ``ferry`` (the cluster runs ``ferry[ray]``, as it must to
  host these actors);
* the output of the worker process: the actor buffers it and this process pulls it every
  :data:`LOG_PULL_SECONDS` into the job's ``logs/user/std{out,err}`` files.

The control plane is a Ray *driver*: the server calls ``ray.init(address=...)`` once per process,
with the compute's address (``auto`` or a GCS ``host:port`` when the server runs on a node of the
cluster, ``ray://host:10001`` through Ray Client otherwise). This is the only module that imports
``ray``; without it installed, :class:`RayCompute` says how to install it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import fcntl
import io
import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ferry.archive import content_hash, pack, safe_extract
from ferry.environments import EnvironmentBuilder, env_hash
from ferry.environments.recipe import from_recipe, recipe_beside
from ferry.errors import InvalidInputError, ServerError
from ferry.workers.data_agent import DataAgent, attach_agent
from ferry.workers.environ import worker_environ
from ferry.workers.spec import WorkerSpec

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError
except ModuleNotFoundError:  # the ray extra is not installed: RayCompute says so
    ray = None  # type: ignore[assignment]

__all__ = [
    "LOG_PULL_SECONDS",
    "RayCompute",
    "RayResources",
    "RayWorker",
    "connect",
    "disconnect",
    "parse_memory",
]

#: How often a worker's new output is pulled from its actor into the job's log files.
LOG_PULL_SECONDS = 0.5
#: Ray's namespace of the server's driver, so Ferry's actors are told apart from other jobs'.
NAMESPACE = "ferry"
_INSTALL = "install it with `pip install 'ferry[ray]'` (uv pip install 'ferry[ray]')"
_PR_SET_PDEATHSIG = 1
_MODEL_ENV = "AZUREML_MODEL_DIR"


def parse_memory(value: str | int | None) -> int | None:
    """``resources.memory`` in bytes: an integer, or ``512Mi``, ``4Gi``, ``2G``, ``1500M``.

    Raises:
        InvalidInputError: the value has no known unit.
    """
    if value is None or isinstance(value, int):
        return value
    units = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
    units |= {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
    text = value.strip().lower().removesuffix("b")
    number = text.rstrip("kmgti")
    unit = text[len(number) :]
    try:
        return int(float(number) * units[unit])
    except (KeyError, ValueError):
        raise InvalidInputError(
            f"resources.memory {value!r} is not a size; write bytes or e.g. 512Mi, 4Gi, 2G",
            details={"field": "resources.memory"},
        ) from None


@dataclass(frozen=True)
class RayResources:
    """What one worker asks Ray for (``resources`` of the deployment)."""

    cpus: float = 1.0
    gpus: float = 0.0
    #: Bytes; None asks for no memory reservation.
    memory: int | None = None


# -- the actor, on a node ---------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: its own session (``killpg`` ends what the script started), and
    SIGKILL when the actor that started it dies, however it dies (a kill -9, a lost raylet)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _cache_root() -> Path:
    return Path(os.environ.get("FERRY_RAY_CACHE") or "/tmp/ferry-ray")  # per node: not shared


#: Default of ``FERRY_RAY_FAILED_BUILD_TTL``: seconds a node remembers that an environment's
#: build failed there, so that every worker start does not pay (and time out on) the same cold
#: failing build again.
FAILED_BUILD_TTL = 600.0


class _CachedBuildError(RuntimeError):
    """This node failed to build the environment a short while ago; the message says when."""


def _failed_build_ttl() -> float:
    """``FERRY_RAY_FAILED_BUILD_TTL`` of this node (read on the node, as ``FERRY_RAY_CACHE``);
    0 turns the memory of failed builds off."""
    raw = os.environ.get("FERRY_RAY_FAILED_BUILD_TTL", "")
    try:
        return float(raw) if raw.strip() else FAILED_BUILD_TTL
    except ValueError:
        return FAILED_BUILD_TTL


@contextlib.contextmanager
def _build_turn(digest: str) -> Iterator[Path]:
    """One actor of this node at a time checks, builds or records the failure of ``digest``
    (an flock: a second actor waits, then reuses the build or its recorded failure); yields
    the failure record's path (``$FERRY_RAY_CACHE/failed-builds/<hash>.json``)."""
    folder = _cache_root() / "failed-builds"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{digest}.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder / f"{digest}.json"
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _recorded_failure(record: Path, ttl: float) -> str | None:
    """The recorded failure's message, when it is younger than ``ttl``; else None (and an
    expired record is removed, so the next start builds again)."""
    try:
        failure = json.loads(record.read_text(encoding="utf-8"))
        age = time.time() - float(failure["at"])
        message = str(failure["message"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if ttl <= 0 or age >= ttl:
        record.unlink(missing_ok=True)
        return None
    return (
        f"cached: this node's build failed {age:.0f} s ago; it builds again after "
        f"FERRY_RAY_FAILED_BUILD_TTL={ttl:.0f} s, or remove {record} to retry now. {message}"
    )


def _build_environment(recipe: dict[str, Any]) -> tuple[str, str]:
    """The interpreter of ``recipe``'s environment on this node, built with uv into this node's
    cache (``$FERRY_RAY_CACHE/envs/<hash>``) the first time, and a line saying which it was.

    A failed build is remembered for ``FERRY_RAY_FAILED_BUILD_TTL`` seconds: until then, starts
    of the same hash on this node fail at once with the same message.

    Raises:
        EnvironmentBuildError: uv could not build it; the message carries uv's own lines.
        _CachedBuildError: it failed here less than the TTL ago (uv's lines, and when).
    """
    resolved, policy = from_recipe(recipe)
    digest = env_hash(resolved, policy)
    ttl = _failed_build_ttl()
    with _build_turn(digest) as record:
        cached = _recorded_failure(record, ttl)
        if cached is not None:
            raise _CachedBuildError(cached)
        started = time.monotonic()
        try:
            built = EnvironmentBuilder(_cache_root() / "envs").ensure(resolved, policy=policy)
        except Exception as exc:
            if ttl > 0:
                failure = {"message": str(exc), "at": time.time(), "node": socket.gethostname()}
                record.write_text(json.dumps(failure), encoding="utf-8")
            raise
    how = "reused" if built.reused else f"built in {time.monotonic() - started:.1f} s"
    return str(built.python), f"environment {built.hash[:12]} {how} in this node's cache"


async def _materialise(kind: str, digest: str, holder: Sequence[Any]) -> Path:
    """The folder of ``digest`` (``kind``: code or model) on this node, unpacked from the object
    store once."""
    final = _cache_root() / kind / digest
    if final.is_dir():
        return final
    data: bytes = await holder[0]
    staging = final.parent / f".tmp-{uuid.uuid4().hex}"
    top = safe_extract(io.BytesIO(data), staging)
    try:
        top.rename(final)
    except OSError:  # another actor on this node unpacked it first: the same content
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


class _WorkerActor:
    """Starts one worker process on its node and hands its output and exit status back.

    An asyncio actor: every method runs on the actor's one event-loop thread, which lives as long
    as the actor, so the child's parent-death signal fires only when the actor itself dies.
    """

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._out = bytearray()
        self._err = bytearray()
        self._pumps: list[asyncio.Task[None]] = []
        self._error: str | None = None
        self._agent: DataAgent | None = None

    async def start(
        self,
        spec: WorkerSpec,
        code: tuple[str, list[Any]] | None,
        recipe: dict[str, Any] | None = None,
        build: bool = False,
        model: tuple[str, list[Any]] | None = None,
    ) -> dict[str, Any]:
        """Start ``spec``'s worker on this node, from the code folder of hash ``code[0]``, in the
        environment of ``recipe`` (built here when the server's interpreter is not on this node,
        or always with ``build``), with the model folder of hash ``model[0]``.

        A warm actor runs one worker after another, never two at once."""
        self._out.clear()
        self._err.clear()
        self._close_agent()
        # On the node: its files are fetched from, and its outputs committed to, the datastore.
        spec, self._agent = attach_agent(spec)
        code_dir = spec.code_dir
        if model is not None:  # AZUREML_MODEL_DIR: the server's path, this node's copy
            local_model = await _materialise("model", model[0], model[1])
            spec = dataclasses.replace(spec, env={**spec.env, _MODEL_ENV: str(local_model)})
        argv = spec.argv()
        if code is not None:
            local = str(await _materialise("code", code[0], code[1]))
            inside = (code_dir, code_dir + "/")
            argv = [local + a[len(code_dir) :] if a.startswith(inside) else a for a in argv]
            code_dir = local
        python = argv[0]
        node = socket.gethostname()
        environment = None
        if recipe is not None and (build or not Path(python).is_file()):
            try:
                argv[0], environment = await asyncio.to_thread(_build_environment, recipe)
            except Exception as exc:  # uv's lines, on one line of the job's log
                text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
                raise RuntimeError(
                    f"building the environment {env_hash(*from_recipe(recipe))[:12]} on Ray "
                    f"node {node} failed: {text}"
                ) from None
            python = argv[0]
        if not Path(python).is_file():
            raise FileNotFoundError(
                f"the environment's interpreter {python} does not exist on Ray node {node}; "
                "build the environment where every node can reach it (an environment built "
                "with its recipe, ferry-recipe.json, is built on each node instead)"
            )
        # As every Compute builds it, from this node's environment and its own ferry runtime
        # (Ray sets CUDA_VISIBLE_DEVICES to the actor's num_gpus devices).
        full = worker_environ(spec, os.environ)
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=code_dir,
            env=full,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,  # the loop thread forks
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(self._proc.stdout, self._out)),
            asyncio.create_task(self._pump(self._proc.stderr, self._err)),
        ]
        node_id = ray.get_runtime_context().get_node_id()
        return {"pid": self._proc.pid, "node": f"{node}:{node_id[:8]}", "environment": environment}

    @staticmethod
    async def _pump(stream: asyncio.StreamReader, into: bytearray) -> None:
        while chunk := await stream.read(65536):
            into += chunk

    async def drain(self) -> tuple[bytes, bytes, int | None]:
        """New output since the last call, and the exit status once the process ended (with
        all of its output)."""
        code = None
        if self._proc is not None and self._proc.returncode is not None:
            await asyncio.gather(*self._pumps)
            code = self._proc.returncode
            self._close_agent()
        out, err = bytes(self._out), bytes(self._err)
        self._out.clear()
        self._err.clear()
        return out, err, code

    async def stop(self) -> None:
        """Kill the worker's process group (what the script started too) and reap it."""
        if self._proc is None or self._proc.returncode is not None:
            self._close_agent()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        await self._proc.wait()
        self._close_agent()

    def _close_agent(self) -> None:
        if self._agent is not None:
            self._agent.close()
            self._agent = None


_Actor: Any = ray.remote(_WorkerActor) if ray is not None else None


# -- this process: the driver -----------------------------------------------------------------

_connect_lock = threading.Lock()
#: Ray Client's message when the head could not start the server process of a new session.
_CLIENT_START_FAILED = "Starting Ray client server failed"
_CLIENT_SESSION_ATTEMPTS = 3
_connected: str | None = None


def _probe(address: str) -> None:
    """Fail fast, naming the address, when nothing listens there (ray.init would wait ~a minute)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ServerError(
            f"cannot reach the Ray cluster at {address} ({exc}); start it (`ray start --head`) "
            "or fix the compute's address with `ferry compute create --name <compute> --type ray "
            "--address ray://<head>:10001` (or <head>:6379 when the server runs on a node)",
            details={"field": "address", "address": address},
        ) from exc


def connect(address: str) -> None:
    """Make this process a driver of the cluster at ``address`` (once per process).

    Raises:
        ServerError: ray is not installed, the cluster cannot be reached, or this process is
            already the driver of another cluster.
    """
    global _connected
    if ray is None:
        raise ServerError(
            f"the compute is a Ray cluster but ray is not installed on the server; {_INSTALL}",
            details={"field": "compute"},
        )
    with _connect_lock:
        if _connected is not None and ray.is_initialized():
            if _connected != address:
                _probe(address)  # an address that is wrong anyway says so first
                raise ServerError(
                    f"this server already drives the Ray cluster at {_connected}; one server "
                    f"drives one cluster, so run another server for {address}",
                    details={"field": "address"},
                )
            return
        _probe(address)
        for attempt in range(1, _CLIENT_SESSION_ATTEMPTS + 1):
            try:
                ray.init(
                    address=address,
                    namespace=NAMESPACE,
                    ignore_reinit_error=True,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
                break
            except (ConnectionError, RuntimeError, ValueError) as exc:
                # Ray Client's head starts a server process per session, and that start fails
                # now and then on a loaded head (seen in tests/ray: it exited at once, with no
                # output); a new session is a new process. A failed ray.init() leaves no state.
                if attempt < _CLIENT_SESSION_ATTEMPTS and _CLIENT_START_FAILED in str(exc):
                    continue
                raise ServerError(
                    f"cannot connect to the Ray cluster at {address}: {exc}; check that it runs "
                    "(`ray status --address ...`) and the compute's address",
                    details={"field": "address", "address": address},
                ) from exc
        _connected = address


def disconnect() -> None:
    """Stop being a driver (its actors end); :func:`connect` may then join another cluster."""
    global _connected
    with _connect_lock:
        if ray is not None and ray.is_initialized():
            _WARM.clear()
            ray.shutdown()
        _connected = None


#: Seconds an actor whose worker ended stays up for the next worker of the same shape (a warm
#: start: no new Ray worker process to boot), before it ends and frees its CPUs and GPUs.
#: ``FERRY_RAY_IDLE_SECONDS=0`` turns reuse off.
IDLE_SECONDS = float(os.environ.get("FERRY_RAY_IDLE_SECONDS", "60"))

#: What an actor reserved: (num_cpus, num_gpus, memory).
_Shape = tuple[float, float, int | None]


@dataclass
class _Idle:
    shape: _Shape
    actor: Any
    node: str
    until: float


def _end(actor: Any) -> None:
    with contextlib.suppress(Exception):
        ray.kill(actor, no_restart=True)


class _WarmActors:
    """Actors whose worker ended, kept a while for the next worker of the same shape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Idle] = []
        self._sweeper: threading.Thread | None = None

    def take(self, shape: _Shape, avoid: set[str]) -> Any | None:
        """An idle actor of ``shape``, on a node not in ``avoid`` when there is one. None: make a
        new one; the idle actors of other shapes are ended first, so their resources are free
        for it."""
        with self._lock:
            self._expire()
            same = [i for i in self._idle if i.shape == shape]
            if same:
                pick = next((i for i in reversed(same) if i.node not in avoid), same[-1])
                self._idle.remove(pick)
                return pick.actor
            others, self._idle = self._idle, []
        for idle in others:
            _end(idle.actor)
        return None

    def put(self, shape: _Shape, actor: Any, node: str) -> None:
        if IDLE_SECONDS <= 0:
            _end(actor)
            return
        with self._lock:
            self._idle.append(_Idle(shape, actor, node, time.monotonic() + IDLE_SECONDS))
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=self._sweep, name="ray-idle", daemon=True)
                self._sweeper.start()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for i in idle:
            _end(i.actor)

    def _expire(self) -> None:
        now = time.monotonic()
        for i in [i for i in self._idle if i.until <= now]:
            self._idle.remove(i)
            _end(i.actor)

    def _sweep(self) -> None:
        while True:
            time.sleep(min(IDLE_SECONDS, 5.0))
            with self._lock:
                self._expire()


_WARM = _WarmActors()
#: Running workers by (job folder, worker id), for :meth:`RayCompute.kill_orphan`.
_RUNNING: dict[tuple[str, str], RayWorker] = {}


class RayWorker:
    """One worker process in a Ray actor, as the engine sees it.

    A thread pulls the actor's new output into the log files and notices the exit: the process's
    own status, or SIGKILL's when the actor or its node died. An actor that outlives its worker
    goes back to the warm actors for the next one.
    """

    def __init__(self, launch: WorkerSpec, compute: RayCompute) -> None:
        self._id = launch.worker_id
        self._launch = launch
        self._compute = compute
        self._paths = (launch.stdout, launch.stderr)
        self._key = (launch.env.get("FERRY_JOB_DIR", launch.code_dir), launch.worker_id)
        self._pid: int | None = None
        self.node: str | None = None
        self._code: int | None = None
        self._done = threading.Event()
        self._kill = threading.Event()
        self._actor, self._started, self._reused = compute._actor_for(launch)
        _RUNNING[self._key] = self
        self._thread = threading.Thread(target=self._follow, name=f"ray-{self._id}", daemon=True)
        self._thread.start()

    @property
    def worker_id(self) -> str:
        return self._id

    @property
    def pid(self) -> int | None:
        """The process id on its node (None until the actor started it)."""
        return self._pid

    def poll(self) -> int | None:
        return self._code

    def wait(self, timeout: float) -> int | None:
        self._done.wait(max(timeout, 0))
        return self._code

    def kill(self) -> None:
        self._kill.set()

    def _write(self, out: bytes, err: bytes) -> None:
        for path, data in zip(self._paths, (out, err), strict=True):
            if path is not None and data:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("ab") as fh:
                    fh.write(data)

    def _note(self, text: str) -> None:
        self._write(b"", f"[ferry] {text}\n".encode())

    def _follow(self) -> None:
        alive = False
        try:
            self._code, alive = self._run()
        finally:
            if alive and self.node is not None:
                _WARM.put(self._compute.shape(self._launch), self._actor, self.node)
            else:
                _end(self._actor)
            if _RUNNING.get(self._key) is self:
                del _RUNNING[self._key]
            self._done.set()

    def _run(self) -> tuple[int, bool]:
        """The worker's exit status, and whether its actor is still fit for another worker."""
        # The actor may wait for resources; the engine's init_timeout bounds that wait.
        while True:
            if self._kill.is_set():
                return -signal.SIGKILL, False
            try:
                info = ray.get(self._started, timeout=LOG_PULL_SECONDS)
                break
            except GetTimeoutError:
                continue
            except RayActorError as exc:
                if self._reused:  # a warm actor that died idle (its node left): make a new one
                    _end(self._actor)
                    self._actor, self._started, self._reused = self._compute._actor_for(
                        self._launch, fresh=True
                    )
                    continue
                self._note(f"the Ray actor of {self._id} died before it started: {exc}")
                return -signal.SIGKILL, False
            except Exception as exc:  # the actor's start() raised: the node cannot run it
                self._note(f"cannot start {self._id} on its Ray node: {_cause(exc)}")
                return 1, False
        self._pid = int(info["pid"])
        self.node = str(info["node"])
        warm = "a warm actor" if self._reused else "a new actor"
        if info.get("environment"):
            self._note(f"{self._id} on Ray node {self.node}: {info['environment']}")
        self._note(f"{self._id} runs on Ray node {self.node}, pid {self._pid} ({warm})")
        while True:
            if self._kill.is_set():
                with contextlib.suppress(Exception):
                    ray.get(self._actor.stop.remote(), timeout=5)
            try:
                out, err, code = ray.get(self._actor.drain.remote(), timeout=30)
            except RayActorError as exc:
                self._note(f"the Ray actor of {self._id} died: {_cause(exc)}")
                return -signal.SIGKILL, False
            except GetTimeoutError:
                self._note(f"the Ray actor of {self._id} stopped answering; giving it up")
                return -signal.SIGKILL, False
            self._write(out, err)
            if code is not None:
                return int(code), True
            self._kill.wait(LOG_PULL_SECONDS)


def _cause(exc: BaseException) -> str:
    """The first line of what the actor raised, without Ray's traceback banner."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


class RayCompute:
    """Starts workers as Ray actors spread over the cluster's nodes; they connect back over TCP.

    Args:
        address: ``auto``, a GCS ``host:port``, or ``ray://host:10001`` (Ray Client).
        resources: what each worker asks Ray for.
    """

    def __init__(
        self,
        address: str,
        resources: RayResources | None = None,
    ) -> None:
        connect(address)
        self.address = address
        self.resources = resources or RayResources()
        self._folders: dict[str, tuple[str, list[Any]]] = {}
        self._recipes: dict[str, dict[str, Any] | None] = {}
        self._workers: list[RayWorker] = []

    @property
    def transport(self) -> Literal["unix", "tcp"]:
        return "tcp"

    @property
    def listen_host(self) -> str:
        """This machine's address on the cluster's network, as Ray sees it (the nodes reach
        the driver there); 127.0.0.1 would only reach workers on this machine."""
        return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]

    def _folder_ref(self, folder: str) -> tuple[str, list[Any]]:
        """A folder's hash and its archive in the object store (packed once per folder per job:
        a job's code and model folders do not change while it runs)."""
        if folder not in self._folders:
            digest = content_hash(Path(folder)).removeprefix("sha256:")
            buffer = io.BytesIO()
            pack(Path(folder), buffer)
            self._folders[folder] = (digest, [ray.put(buffer.getvalue())])
        return self._folders[folder]

    def shape(self, launch: WorkerSpec) -> _Shape:
        """What ``launch``'s actor reserves: the spec's resources (the deployment's), else the
        compute's defaults."""
        asked, res = launch.resources, self.resources
        return (
            res.cpus if asked.cpus is None else asked.cpus,
            res.gpus if asked.gpus is None else asked.gpus,
            res.memory if asked.memory is None else asked.memory,
        )

    def start(self, launch: WorkerSpec) -> RayWorker:
        """Find or create the worker's actor and ask it to start the process (asynchronous: the
        worker's output and exit reach the engine through :class:`RayWorker`)."""
        worker = RayWorker(launch, self)
        self._workers.append(worker)
        return worker

    def _actor_for(self, launch: WorkerSpec, *, fresh: bool = False) -> tuple[Any, Any, bool]:
        """``(actor, its start() call, whether it was warm)``: a warm actor of the same shape on a
        node this compute's workers do not use yet when there is one, else a new one (SPREAD)."""
        shape = self.shape(launch)
        self._workers = [w for w in self._workers if w.poll() is None]
        actor = None if fresh else _WARM.take(shape, {w.node for w in self._workers if w.node})
        warm = actor is not None
        if actor is None:
            cpus, gpus, memory = shape
            actor = _Actor.options(
                num_cpus=cpus,
                num_gpus=gpus,
                memory=memory,
                # Ray never re-runs anything: a lost actor is a lost worker, which the engine
                # handles from its journal.
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=4,
                scheduling_strategy="SPREAD",
            ).remote()
        model_dir = launch.env.get(_MODEL_ENV)
        model = self._folder_ref(model_dir) if model_dir and Path(model_dir).is_dir() else None
        started = actor.start.remote(
            launch, self._folder_ref(launch.code_dir), *self._environment(launch.python), model
        )
        return actor, started, warm

    def _environment(self, python: str) -> tuple[dict[str, Any] | None, bool]:
        """The recipe of the environment whose interpreter the server built (None for the
        server's own interpreter: nothing to build), and whether every node builds its own copy
        even where the server's path is visible (``FERRY_RAY_BUILD_ENVIRONMENTS=always``)."""
        if python not in self._recipes:
            self._recipes[python] = recipe_beside(python)
        always = os.environ.get("FERRY_RAY_BUILD_ENVIRONMENTS", "") == "always"
        return self._recipes[python], always

    def kill_orphan(self, worker_id: str, pid: int | None, job_dir: str) -> bool:
        """Kill a worker left behind by an engine that died while this server did not (a server
        that died took its actors along, and each actor its worker)."""
        worker = _RUNNING.get((job_dir, worker_id))
        if worker is None or worker.poll() is not None:
            return False
        worker.kill()
        return True
