"""EnvironmentBuilder against real uv and real venvs (small pinned packages from PyPI)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from ferry.environments import (
    BuiltEnvironment,
    EnvironmentBuilder,
    EnvironmentBuildError,
    ResolutionPolicy,
    normalize_requirements,
)

SMALL = ["six==1.16.0", "tomli==2.0.1"]


def run_python(env: BuiltEnvironment, code: str) -> str:
    done = subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def leftovers(root: Path) -> list[Path]:
    tmp = root / ".tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def test_cold_build_then_warm_reuse(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path / "envs")
    resolved = normalize_requirements(SMALL)
    lines: list[str] = []

    started = time.perf_counter()
    env = builder.ensure(resolved, log=lines.append)
    cold = time.perf_counter() - started

    assert not env.reused
    assert env.path == tmp_path / "envs" / env.hash == builder.path_for(resolved)
    assert env.python == env.path / "bin" / "python"
    assert env.python_version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert run_python(env, "import six, tomli; print(six.__version__)") == "1.16.0"
    assert env.log_path == env.path / "build.log"
    log_text = env.log_path.read_text()
    assert "$ uv pip install" in log_text and "ferry: built in" in log_text
    assert any(line.startswith("$ uv venv") for line in lines)
    assert (env.path / "ferry-freeze.txt").read_text().splitlines() == SMALL
    assert leftovers(builder.root) == []

    again = EnvironmentBuilder(tmp_path / "envs")  # a fresh builder: state is on disk only
    started = time.perf_counter()
    for _ in range(100):
        warm = again.ensure(resolved)
    per_call = (time.perf_counter() - started) / 100
    print(f"\ncold build of {SMALL}: {cold:.2f} s; warm reuse: {per_call * 1e6:.0f} µs per call")
    assert warm.reused
    assert (warm.hash, warm.path, warm.python) == (env.hash, env.path, env.python)


def test_warm_path_runs_no_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = EnvironmentBuilder(tmp_path)
    resolved = normalize_requirements(["six==1.16.0"])
    builder.ensure(resolved)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"subprocess on the warm path: {args}")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    assert builder.ensure(resolved).reused


_WORKER = """
import json, sys, time
from pathlib import Path
from ferry.environments import EnvironmentBuilder, normalize_requirements
root, go = Path(sys.argv[1]), Path(sys.argv[2])
resolved = normalize_requirements(["six==1.16.0"])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
env = EnvironmentBuilder(root).ensure(resolved)
print(json.dumps({"hash": env.hash, "reused": env.reused}), flush=True)
"""


def test_concurrent_threads_and_processes_build_once(tmp_path: Path) -> None:
    root, go = tmp_path / "envs", tmp_path / "go"
    resolved = normalize_requirements(["six==1.16.0"])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(root), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for proc in procs:  # imports done: they are polling for the go file
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    start = threading.Event()
    results: list[BuiltEnvironment | BaseException] = []

    def thread_main() -> None:
        start.wait()
        try:
            results.append(EnvironmentBuilder(root).ensure(resolved))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=thread_main) for _ in range(4)]
    for thread in threads:
        thread.start()
    go.touch()
    start.set()
    for thread in threads:
        thread.join(timeout=120)
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    envs = [r for r in results if isinstance(r, BuiltEnvironment)]
    assert len(envs) == 4, results
    reused = [e.reused for e in envs] + [o["reused"] for o in outputs]
    assert reused.count(False) == 1, reused
    assert {e.hash for e in envs} | {o["hash"] for o in outputs} == {envs[0].hash}
    # one build, one log: a second build would have re-created the folder and its log
    log_text = envs[0].log_path.read_text()
    assert log_text.count("ferry: requirements:") == 1
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [envs[0].hash]
    assert leftovers(root) == []


def test_unknown_package_fails_with_uvs_message_and_leaves_nothing(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path)
    resolved = normalize_requirements(["six==1.16.0", "definitely-not-a-package-xyz==1.0"])
    with pytest.raises(EnvironmentBuildError) as caught:
        builder.ensure(resolved)
    error = caught.value
    message = str(error)
    print(f"\n{message}")
    assert "package 'definitely-not-a-package-xyz' was not found in the package index" in message
    assert "error: No solution found when resolving dependencies" in message  # uv's own words
    assert "definitely-not-a-package-xyz was not found in the package registry" in message
    assert error.code.value == "invalid_input" and error.http_status == 400
    assert error.details["package"] == "definitely-not-a-package-xyz"
    kept = Path(error.details["log_path"])
    assert kept.parent == tmp_path / ".failed" and "No solution found" in kept.read_text()
    assert str(kept) in message
    assert not builder.path_for(resolved).exists()
    assert leftovers(tmp_path) == []


def test_missing_python_falls_back_with_a_notice(tmp_path: Path) -> None:
    # 3.5 is older than Ferry's worker runtime supports, so it is never used even if installed
    builder = EnvironmentBuilder(tmp_path)
    resolved = normalize_requirements(["six==1.16.0"], python_version="3.5")
    env = builder.ensure(resolved)
    minor = int(env.python_version.split(".")[1])
    assert env.python_version.startswith("3.") and minor >= 8
    notice = next(n for n in env.notices if n.startswith(f"Python {env.python_version} from "))
    assert "for python=3.5: Python 3.5 is not installed" in notice
    assert "set 'ferry_python: strict' to make this an error" in notice
    assert run_python(env, "import six; print(six.__version__)") == "1.16.0"
    assert builder.ensure(resolved).notices == env.notices  # kept for warm reuse too

    with pytest.raises(EnvironmentBuildError, match="ferry_python is strict") as caught:
        builder.ensure(resolved, policy=ResolutionPolicy(strict_python=True))
    assert "strict_python" not in str(caught.value)  # the README's spelling, not the field's
    assert caught.value.details["field"] == "python_version"
    assert Path(caught.value.details["log_path"]).is_file()
    assert not builder.path_for(resolved, ResolutionPolicy(strict_python=True)).exists()
    assert leftovers(tmp_path) == []


def _wheel(folder: Path, name: str = "ferry_findlinks_probe", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel with a console script, written by hand."""
    dist = f"{name}-{version}"
    files = {
        f"{name}/__init__.py": "def main():\n    print(42)\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: ferry-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist}.dist-info/entry_points.txt": f"[console_scripts]\nferry-probe = {name}:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_pip_find_links_reaches_uv_and_scripts_survive_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    _wheel(wheels)
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    cache = tmp_path / "uv-cache"
    builder = EnvironmentBuilder(tmp_path / "envs", uv_cache_dir=cache)
    env = builder.ensure(normalize_requirements(["ferry-findlinks-probe==0.1"]))
    assert f"--find-links {wheels}" in env.log_path.read_text()
    # the venv was built under .tmp/ and renamed: its entry points must still work
    script = env.path / "bin" / "ferry-probe"
    done = subprocess.run([str(script)], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "42"
    assert any(cache.iterdir())  # uv used the cache it was given


def test_stale_leftovers_are_cleared(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path)
    resolved = normalize_requirements(["six==1.16.0"])
    target = builder.path_for(resolved)
    dead_build = tmp_path / ".tmp" / f"{target.name}-999-dead"
    (dead_build / "lib").mkdir(parents=True)
    (target / "lib").mkdir(parents=True)  # a folder without a completion marker
    env = builder.ensure(resolved)
    assert not env.reused and (env.path / ".ferry-env.json").is_file()
    assert not dead_build.exists()
    assert run_python(env, "import six; print(six.__version__)") == "1.16.0"
