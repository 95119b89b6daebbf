"""The resolution rules on real interpreters and real package sets: which Python, which date,
which pins move (README "Environments").

The builds here download from PyPI through uv's cache; there are two cold builds in all.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ferry import BatchDeployment
from ferry.environments import (
    EnvironmentBuilder,
    ResolutionPolicy,
    normalize_conda,
    normalize_requirements,
)
from ferry.environments._dates import exact_pins, newest_pin_date
from ferry.environments._pythons import RUNTIME_MIN, discover, select_python
from ferry.environments._uv import BuildLog
from ferry.environments.deployment import resolution_policy
from ferry.environments.errors import EnvironmentBuildError
from ferry.errors import InvalidInputError

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "ferry" / "runtime"


def _installed(major: int, minor: int) -> bool:
    return any((p.major, p.minor) == (major, minor) for p in discover())


# --- finding interpreters ----------------------------------------------------------------------


def test_pyenv_versions_are_found_without_their_shims(tmp_path: Path) -> None:
    real = Path(sys.executable).resolve()
    version = ".".join(str(n) for n in sys.version_info[:3])
    (tmp_path / "pyenv" / "versions" / version / "bin").mkdir(parents=True)
    (tmp_path / "pyenv" / "versions" / version / "bin" / "python3").symlink_to(real)
    # a shim answers for whatever version pyenv has selected: never used
    shims = tmp_path / "pyenv" / "shims"
    shims.mkdir()
    shim = shims / "python3"
    shim.write_text("#!/bin/sh\necho 9.9.9\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    environ = {"HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv"), "PATH": str(shims)}
    found = discover(environ)
    assert found[0].source == "pyenv" and found[0].version == version
    assert all("/shims/" not in p.path for p in found)


def test_ferry_pythons_comes_first_and_takes_folders_of_installs(tmp_path: Path) -> None:
    real = Path(sys.executable).resolve()
    install = tmp_path / "pythons" / "mine" / "bin"
    install.mkdir(parents=True)
    (install / "python3").symlink_to(real)
    environ = {"HOME": str(tmp_path), "PATH": "", "FERRY_PYTHONS": str(tmp_path / "pythons")}
    found = discover(environ)
    assert found[0].source == "FERRY_PYTHONS"
    assert found[0].path == str(install / "python3")
    assert len({Path(p.path).resolve() for p in found}) == len(found)  # one entry per interpreter


def test_the_worker_runtime_imports_on_the_oldest_supported_python(tmp_path: Path) -> None:
    """The runtime runs on the chosen interpreter: keep it importable on RUNTIME_MIN."""
    oldest = [p for p in discover() if (p.major, p.minor) == RUNTIME_MIN]
    if not oldest:
        pytest.fail(
            f"no Python {RUNTIME_MIN[0]}.{RUNTIME_MIN[1]} installed here"
            " (the pyenv interpreters 3.6 to 3.13 that CI has)"
        )
    staged = tmp_path / "ferry"
    shutil.copytree(RUNTIME, staged / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (staged / "__init__.py").write_text("")
    modules = sorted(f"ferry.runtime.{p.stem}" for p in RUNTIME.glob("*.py"))
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
    done = subprocess.run(
        [oldest[0].path, "-c", code, *modules],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- the date rule -----------------------------------------------------------------------------


def test_exact_pins_include_conda_prefix_pins_of_a_full_version() -> None:
    reqs = ["numpy", "scikit-learn==1.2.2.*", "pandas==1.5.*", "six==1.16.0; python_version>'3'"]
    assert exact_pins(reqs) == [("scikit-learn", "1.2.2"), ("six", "1.16.0")]


def test_the_cutoff_is_the_newest_pins_release_date() -> None:
    cutoff, line = newest_pin_date(["cloudpickle==1.6.0", "numpy", "scikit-learn==1.2.2.*"], [])
    # No skip when the index is unreachable: the builds in this file need it too, and a skip
    # here would hide a broken date lookup.
    assert cutoff is not None, f"no cut-off was found: {line}"
    assert f"{cutoff.moment:%Y-%m-%d}" == "2023-03-09"
    assert "the release of scikit-learn 1.2.2 (the newest exact pin)" in cutoff.reason
    assert newest_pin_date(["numpy"], [])[0] is None


# --- real builds -------------------------------------------------------------------------------


@pytest.mark.slow
def test_python_310_sklearn_122_and_unpinned_numpy_import_together(tmp_path: Path) -> None:
    """Conda reads scikit-learn=1.2.2 as 1.2.2.*, and picks a numpy built to go with it."""
    if not _installed(3, 10):
        pytest.fail(
            "no Python 3.10 on this machine (the pyenv interpreters 3.6 to 3.13 that CI has)"
        )
    conda = {"dependencies": ["python=3.10", "pip", "scikit-learn=1.2.2", "numpy"]}
    resolved = normalize_conda(conda)
    assert "scikit-learn==1.2.2.*" in resolved.requirements
    lines: list[str] = []
    env = EnvironmentBuilder(tmp_path / "envs").ensure(resolved, log=lines.append)
    assert env.python_version.startswith("3.10.")
    chosen = next(n for n in env.notices if n.startswith("Python 3.10."))
    assert "for python=3.10: found" in chosen
    assert any(chosen in line for line in lines)  # the choice is in the build log too
    assert any("as of 2023-03-09" in n for n in env.notices), env.notices
    code = "import sklearn, numpy; print(sklearn.__version__, numpy.__version__)"
    done = subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sklearn, numpy = done.stdout.split()
    assert sklearn == "1.2.2" and numpy.startswith("1.")


@pytest.mark.slow
def test_a_pin_without_a_wheel_moves_by_default_and_strict_refuses(tmp_path: Path) -> None:
    """scikit-learn 1.1.2 has no wheel for Python 3.11: moved and reported, or refused.

    Pandas is left open: as of 1.1.2's release date it resolves to 1.4.x, which has no 3.11 wheel.
    """
    if not _installed(3, 11):
        pytest.fail(
            "no Python 3.11 on this machine (the pyenv interpreters 3.6 to 3.13 that CI has)"
        )
    pip = ["scikit-learn==1.1.2", "pandas"]
    resolved = normalize_conda({"dependencies": ["python=3.11", {"pip": pip}]})
    builder = EnvironmentBuilder(tmp_path / "envs")
    with pytest.raises(EnvironmentBuildError) as caught:
        builder.ensure(resolved, policy=ResolutionPolicy.strict())
    message = str(caught.value)
    assert "ferry_resolution is strict" in message
    assert "scikit-learn 1.1.2 → 1.1.3: no wheel for Python 3.11" in message
    fix = message.split("Fix:")[1]
    assert "remove 'ferry_resolution: strict'" in fix and "--set environment=azureml:" in fix
    assert "ResolutionPolicy" not in message

    env = builder.ensure(resolved)
    moved = [c for c in env.changes if c.startswith("scikit-learn 1.1.2 → 1.1.3: ")]
    assert moved and "no wheel for Python 3.11" in moved[0], env.changes
    # pandas as of scikit-learn 1.1.2's day (1.4.x) has no wheel for 3.11 in its whole series:
    # the cut-off is lifted for it, and said so
    assert any(c.startswith("pandas 1.4.") and "cut-off is lifted" in c for c in env.changes)
    frozen = (env.path / "ferry-freeze.txt").read_text().splitlines()
    assert "scikit-learn==1.1.3" in frozen
    code = "import sklearn, pandas; print(sklearn.__version__)"
    done = subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "1.1.3", done.stderr[-2000:]


# --- deployment properties -----------------------------------------------------------------------


def _deployment(**properties: str) -> BatchDeployment:
    return BatchDeployment(name="d", endpoint_name="e", model="azureml:m:1", properties=properties)


def test_properties_choose_the_policy_and_bad_values_name_the_property() -> None:
    assert resolution_policy(_deployment(), None) == ResolutionPolicy()
    assert resolution_policy(_deployment(ferry_resolution="relaxed"), None) == ResolutionPolicy()
    strict = resolution_policy(_deployment(ferry_resolution="strict"), None)
    assert strict == ResolutionPolicy.strict() and strict.refuse_changes and strict.strict_python
    assert resolution_policy(_deployment(ferry_python="strict"), None).strict_python
    with pytest.raises(InvalidInputError) as caught:
        resolution_policy(_deployment(ferry_resolution="exact"), None)
    assert caught.value.details["field"] == "properties.ferry_resolution"
    assert "--set properties.ferry_resolution=strict" in str(caught.value)


def test_a_requirement_newer_than_the_cutoff_is_resolved_without_it(tmp_path: Path) -> None:
    """six>=1.16 as of 2020: nothing qualifies, so the date is lifted for six, and said so."""
    resolved = normalize_requirements(["six>=1.16"])
    policy = ResolutionPolicy(exclude_newer=datetime(2020, 1, 1, tzinfo=timezone.utc))
    env = EnvironmentBuilder(tmp_path).ensure(resolved, policy=policy)
    assert env.changes == (
        "six → the newest release that fits: no release before the date cut-off (2020-01-01) "
        "meets the requirement, so it is lifted for it",
    )
    frozen = (env.path / "ferry-freeze.txt").read_text().splitlines()
    six = next(line.split("==")[1] for line in frozen if line.startswith("six=="))
    assert tuple(int(part) for part in six.split(".")[:2]) >= (1, 16)

    with pytest.raises(EnvironmentBuildError, match="no release of 'six' matches"):
        EnvironmentBuilder(tmp_path / "strict").ensure(
            resolved, policy=ResolutionPolicy.strict(exclude_newer=policy.exclude_newer)
        )


def _select(request: str, tmp_path: Path, **flags: bool) -> tuple[str, list[str]]:
    with BuildLog(tmp_path / "build.log", None) as log:
        return select_python(request, log=log, strict=flags.get("strict", False))


def test_a_python_too_old_for_the_runtime_gets_the_oldest_supported_one(tmp_path: Path) -> None:
    if not _installed(3, 6):
        pytest.fail(
            "no Python 3.6 on this machine (the pyenv interpreters 3.6 to 3.13 that CI has)"
        )
    path, notices = _select("3.6", tmp_path)
    oldest = min((p for p in discover() if p.supported), key=lambda p: (p.minor, -p.patch))
    assert path == oldest.path
    assert "Ferry's worker runtime needs Python 3.8 or newer" in notices[0]
    assert notices[0] in (tmp_path / "build.log").read_text()  # and in the build log
    with pytest.raises(EnvironmentBuildError, match="ferry_python is strict"):
        _select("3.6", tmp_path, strict=True)


def test_a_range_gets_the_newest_installed_python_in_it(tmp_path: Path) -> None:
    inside = [p for p in discover() if p.supported and (3, 9) <= (p.major, p.minor) < (3, 11)]
    if not inside:
        pytest.fail(
            "no Python 3.9 or 3.10 on this machine (the pyenv interpreters 3.6 to 3.13 that CI has)"
        )
    _, notices = _select(">=3.9,<3.11", tmp_path)
    newest = max(inside, key=lambda p: (p.minor, p.patch))
    assert notices[0].startswith(f"Python {newest.version} from ")
    assert "the newest installed Python in >=3.9,<3.11" in notices[0]
