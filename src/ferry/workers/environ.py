"""The one way a :class:`~ferry.workers.spec.WorkerSpec` becomes a process's environment.

Every backend builds a worker's environment here: the environment it runs in (the server's, or a
cluster node's) without the server's own ``FERRY_*`` settings (a control-plane token must not
reach user code), then the spec's ``env``, then its ``secret_env``, with the worker runtime first
on ``PYTHONPATH``.

The runtime is standard-library only, so the user's environment needs nothing from Ferry
installed: the folder holding the ``ferry`` package goes first on ``PYTHONPATH``. In a source
checkout that folder holds only Ferry; when Ferry is installed it is ``site-packages``, which must
not shadow the user's own packages, so a private copy of just the runtime is put there instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from ferry.workers.spec import WorkerSpec

__all__ = ["runtime_path", "stage_runtime", "worker_environ"]

_SHARED_FOLDERS = ("site-packages", "dist-packages")
#: The server's settings prefix: what the server was configured with stays in the server.
_SERVER_PREFIX = "FERRY_"


def stage_runtime(package: Path) -> str:
    """A private folder holding ``ferry/__init__.py`` (a stub) and ``ferry/runtime/``."""
    runtime = package / "runtime"
    sources = sorted(runtime.glob("*.py"))
    digest = hashlib.sha256()
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    dest = Path(tempfile.gettempdir()) / f"ferry-runtime-{digest.hexdigest()[:16]}"
    if not (dest / "ferry" / "runtime" / "worker.py").is_file():
        tmp = Path(tempfile.mkdtemp(prefix="ferry-runtime-", dir=dest.parent))
        (tmp / "ferry" / "runtime").mkdir(parents=True)
        (tmp / "ferry" / "__init__.py").write_text('"""Ferry\'s worker runtime (a copy)."""\n')
        for src in sources:
            shutil.copy2(src, tmp / "ferry" / "runtime" / src.name)
        try:
            tmp.rename(dest)
        except OSError:  # another process staged it first: the same content
            shutil.rmtree(tmp, ignore_errors=True)
    return str(dest)


@cache
def runtime_path() -> str:
    """The folder to put first on a worker's ``PYTHONPATH`` so ``ferry.runtime`` imports."""
    package = Path(__file__).absolute().parents[1]
    root = package.parent
    if root.name in _SHARED_FOLDERS:
        return stage_runtime(package)
    return str(root)


def worker_environ(
    spec: WorkerSpec, base: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The complete environment of ``spec``'s worker process.

    Args:
        spec: the worker; its ``env`` then ``secret_env`` are added.
        base: the environment the backend runs in (``os.environ`` here, a node's on a cluster);
            its ``FERRY_*`` variables are left out.
        extra: what the backend itself sets last (e.g. ``CUDA_VISIBLE_DEVICES``).
    """
    env = {k: v for k, v in base.items() if not k.startswith(_SERVER_PREFIX)}
    env.update(spec.env)
    env.update(spec.secret_env)
    env.update(extra or {})
    paths = [runtime_path(), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
