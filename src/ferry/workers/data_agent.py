"""The data agent: a worker's door to the datastores where its job's data lives.

A worker runs the user's interpreter with the standard library only, so it cannot open an S3 or
Azure Blob datastore itself, and on a Ray node it cannot see the server's disk either. Beside each
worker runs an agent that can: in the server process for a local worker, in the Ray actor for a
worker on a node. Before ``run()`` the worker asks it to *fetch* the mini-batch's items
(``azureml://datastores/<d>/paths/<p>``) into a scratch folder on the worker's machine; after
``run()`` to *finish*: commit every file the script wrote under its ``AZUREML_BI_OUTPUT_PATH``
to the job's output location, each one pending-then-rename (:meth:`Datastore.commit`), and clear
the scratch. A file on the datastore is therefore whole or absent, and the worker reports a
mini-batch only once its files are there: a worker lost before that has its mini-batch retried
from the journal like any other, and the retry's commit of a file already there is a no-op.

What the agent may open travels in the worker's ``secret_env`` under :data:`ACCESS_ENV` (the
datastores' specs with their credentials, and the output location), in memory only. The agent
takes it out of the spec: the worker's environment (and so the user's script) never holds a
datastore credential, only :data:`AGENT_ENV`, the agent's unix socket.

Protocol: one JSON object per line, one connection per worker.
``{"op": "fetch", "items": [uri, ...]}`` -> ``{"paths": [local path, ...]}``;
``{"op": "prefetch", "items": [...]}`` -> ``{}`` (the next mini-batch, fetched meanwhile);
``{"op": "finish", "commit": true}`` -> ``{"committed": [relative path, ...]}``;
a failure -> ``{"error": "<message naming the datastore and path>"}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import socket
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ferry.datastore import Datastore, open_datastore, parse_uri
from ferry.errors import ForbiddenError
from ferry.specs.workspace import DatastoreSpec
from ferry.workers.spec import WorkerSpec

__all__ = ["ACCESS_ENV", "AGENT_ENV", "DataAgent", "attach_agent", "data_access"]

#: ``secret_env`` key: JSON ``{"datastores": {name: {"spec", "credentials"}}, "output": uri}``.
ACCESS_ENV = "FERRY_DATA_ACCESS"
#: The worker's variable: the agent's unix socket.
AGENT_ENV = "FERRY_DATA_AGENT"
_OUTPUT_ENV = "AZUREML_BI_OUTPUT_PATH"


def data_access(
    datastores: dict[str, tuple[dict[str, Any], dict[str, str]]], output: str | None
) -> str:
    """The :data:`ACCESS_ENV` value: each datastore's stored spec and credentials by name, and
    the ``azureml://`` folder that output files go to (None: they stay where the worker wrote
    them, on the machine that runs the job)."""
    stores = {
        name: {"spec": spec, "credentials": creds} for name, (spec, creds) in datastores.items()
    }
    return json.dumps({"datastores": stores, "output": output})


def attach_agent(spec: WorkerSpec) -> tuple[WorkerSpec, DataAgent | None]:
    """Start an agent for ``spec``'s worker when the spec asks for one (:data:`ACCESS_ENV`), and
    the spec to start the worker with: the access taken out, the agent's socket and (when the
    outputs are committed) a scratch output folder put in.

    Every Compute calls this on the machine where the worker runs, and closes the agent when
    the worker has ended."""
    access = spec.secret_env.get(ACCESS_ENV)
    if access is None:
        return spec, None
    agent = DataAgent(json.loads(access))
    env = {**spec.env, AGENT_ENV: str(agent.socket_path)}
    if agent.output is not None:
        env[_OUTPUT_ENV] = str(agent.output_dir)
    secret_env = {k: v for k, v in spec.secret_env.items() if k != ACCESS_ENV}
    return dataclasses.replace(spec, env=env, secret_env=secret_env), agent


class DataAgent:
    """Serves one worker's fetches and commits from a thread, in a scratch folder of its own.

    Args:
        access: the decoded :data:`ACCESS_ENV` value.
    """

    def __init__(self, access: dict[str, Any]) -> None:
        self._specs: dict[str, dict[str, Any]] = dict(access.get("datastores", {}))
        self._open: dict[str, Datastore] = {}
        self.output: str | None = access.get("output")
        self.scratch = Path(tempfile.mkdtemp(prefix="ferry-data-"))
        self.output_dir = self.scratch / "out"
        self.output_dir.mkdir()
        self._inputs = self.scratch / "in"
        # One download at a time: the next mini-batch's (prefetched) while the script scores.
        self._downloader = ThreadPoolExecutor(1, thread_name_prefix="ferry-data-fetch")
        self._ahead: dict[tuple[str, ...], tuple[Path, Future[list[str]]]] = {}
        self._current: Path | None = None
        self._downloads_made = 0
        self.socket_path = self.scratch / "agent.sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_path))
        self._listener.listen(1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ferry-data-agent", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and remove the scratch folder (fetched items, uncommitted outputs)."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        self._downloader.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- the requests ---------------------------------------------------------------------------

    def prefetch(self, items: list[str]) -> None:
        """Start fetching the *next* mini-batch's ``items`` while the worker runs this one (the
        worker has its frame already); :meth:`fetch` of the same items then takes the result,
        or its error."""
        key = tuple(items)
        if key not in self._ahead:
            self._ahead[key] = self._download(items)

    def fetch(self, items: list[str]) -> list[str]:
        """The local paths of ``items`` (datastore URIs; a plain path is passed through), in a
        folder of their own that :meth:`finish` removes."""
        ahead = self._ahead.pop(tuple(items), None)
        folder, download = ahead if ahead is not None else self._download(items)
        self._current = folder
        try:
            return download.result()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            self._current = None
            raise

    def _download(self, items: list[str]) -> tuple[Path, Future[list[str]]]:
        self._downloads_made += 1
        folder = self._inputs / str(self._downloads_made)
        return folder, self._downloader.submit(self._copy, items, folder)

    def _copy(self, items: list[str], folder: Path) -> list[str]:
        by_store: dict[str, list[tuple[int, str]]] = {}
        paths = list(items)
        for i, item in enumerate(items):
            if item.lower().startswith("azureml://"):
                name, rel = parse_uri(item)
                by_store.setdefault(name, []).append((i, rel))
        for name, wanted in by_store.items():
            local = self._store(name).fetch([rel for _, rel in wanted], folder / name)
            for (i, _), path in zip(wanted, local, strict=True):
                paths[i] = str(path)
        return paths

    def finish(self, commit: bool) -> list[str]:
        """Commit the files the script wrote (unless ``commit`` is false: ``run()`` failed, so its
        files are dropped), then clear the scratch. Returns the committed files' relative paths."""
        committed: list[str] = []
        try:
            if commit and self.output is not None:
                name, prefix = parse_uri(self.output)
                store = self._store(name)
                for path in sorted(p for p in self.output_dir.rglob("*") if p.is_file()):
                    rel = path.relative_to(self.output_dir).as_posix()
                    store.commit(path, f"{prefix}/{rel}" if prefix else rel)
                    committed.append(rel)
        finally:
            for child in self.output_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            if self._current is not None:  # this mini-batch's items; a prefetched one stays
                shutil.rmtree(self._current, ignore_errors=True)
                self._current = None
        return committed

    def _store(self, name: str) -> Datastore:
        if name not in self._open:
            if name not in self._specs:
                raise ForbiddenError(
                    f"datastore {name!r} was not granted to this job (it may read "
                    f"{', '.join(sorted(self._specs)) or 'none'})",
                    details={"datastore": name},
                )
            entry = self._specs[name]
            creds = dict(entry.get("credentials", {}))
            spec = DatastoreSpec.model_validate({**entry["spec"], "credentials": creds})
            self._open[name] = open_datastore(spec, creds)
        return self._open[name]

    # -- the socket -----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            with conn, conn.makefile("rwb") as stream:
                for line in stream:
                    stream.write(json.dumps(self._answer(line)).encode() + b"\n")
                    stream.flush()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if request.get("op") == "fetch":
                return {"paths": self.fetch(list(request["items"]))}
            if request.get("op") == "prefetch":
                self.prefetch(list(request["items"]))
                return {}
            if request.get("op") == "finish":
                return {"committed": self.finish(bool(request.get("commit", True)))}
            return {"error": f"the data agent has no operation {request.get('op')!r}"}
        except Exception as exc:  # the worker turns it into the mini-batch's error
            return {"error": f"{type(exc).__name__}: {exc}"}
