"""Reading uv's failure output, and the bookkeeping of the pin-relaxing plan (no uv runs)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ferry.environments._diagnose import diagnose
from ferry.environments._relax import Plan, install_args, series
from ferry.environments.policy import ResolutionPolicy

# uv 0.13 output, trimmed from real runs on Python 3.11
BUILD_FAILURE = """\
Using Python 3.11.7 environment at: v1
Resolved 6 packages in 400ms
   Building scikit-learn==1.1.2
error: Failed to build `scikit-learn==1.1.2`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)

         [stdout]
         Partial import of sklearn during the build process.
         Compiling sklearn/__check_build/_check_build.pyx

         [stderr]
         Traceback (most recent call last):
           File "setup.py", line 325, in setup_package
             setup(**metadata)
             ^^^^^^^^^^^^^^^^^
         Cython.Compiler.Errors.CompileError: sklearn/ensemble/splitting.pyx

hint: `scikit-learn` (v1.1.2) was included because `mlflow` (v1.29.0) depends on `scikit-learn`
hint: Build failures usually indicate a problem with the package or the build environment
"""
NOT_FOUND = """\
Using Python 3.11.7 environment at: v1
error: No solution found when resolving dependencies
  cause: Because definitely-not-a-package-xyz was not found in the package registry and you \
require definitely-not-a-package-xyz==1.0, we can conclude that your requirements are \
unsatisfiable.
"""
NO_VERSION = """\
error: No solution found when resolving dependencies
  cause: Because there is no version of six==99.0 and you require six==99.0, we can conclude \
that your requirements are unsatisfiable.
"""
NO_WHEELS = """\
error: No solution found when resolving dependencies
  cause: Because numpy==1.19.5 has no usable wheels and you require numpy==1.19.5, we can \
conclude that your requirements are unsatisfiable.

hint: Wheels are required for `numpy` because building from source is disabled
"""


def test_build_failure_names_the_package_and_keeps_the_real_error() -> None:
    failure = diagnose(BUILD_FAILURE)
    assert (failure.kind, failure.package, failure.version) == ("build", "scikit-learn", "1.1.2")
    assert failure.excerpt[0] == "error: Failed to build `scikit-learn==1.1.2`"
    text = "\n".join(failure.excerpt)
    assert "Cython.Compiler.Errors.CompileError: sklearn/ensemble/splitting.pyx" in text
    assert "^^^^" not in text  # traceback underlines are dropped
    assert "Partial import" not in text  # stdout is dropped when stderr has something
    assert "Resolved 6 packages" not in text  # only the error block is kept
    assert "hint: Build failures usually indicate" in text
    assert "was included because `mlflow`" in text


def test_resolution_failures() -> None:
    found = diagnose(NOT_FOUND)
    assert (found.kind, found.package) == ("not-found", "definitely-not-a-package-xyz")
    assert found.excerpt[0] == "error: No solution found when resolving dependencies"
    version = diagnose(NO_VERSION)
    assert (version.kind, version.package) == ("no-version", "six")
    wheels = diagnose(NO_WHEELS)
    assert (wheels.kind, wheels.package, wheels.version) == ("no-wheels", "numpy", "1.19.5")


def test_unknown_output_keeps_the_last_lines() -> None:
    failure = diagnose("\n".join(f"line {i}" for i in range(40)))
    assert failure.kind == "unknown" and failure.package is None
    assert failure.excerpt[-1] == "line 39" and len(failure.excerpt) <= 10


def test_long_excerpts_are_cut() -> None:
    output = "error: boom\n" + "\n".join(f"  cause: reason {i}" for i in range(100))
    excerpt = diagnose(output).excerpt
    assert len(excerpt) == 30 and excerpt[-1].startswith("... (72 more lines")


def test_plan_moves_direct_pins_and_constrains_dependencies(tmp_path: Path) -> None:
    plan = Plan.start(("mlflow", "scikit-learn==1.1.2; python_version>'3'", "xgboost==1.3.3"))
    assert plan.exempt == {"scikit-learn", "xgboost"}
    direct = plan.move("scikit-learn", "1.1.2", "1.1.3", "no wheel for Python 3.11")
    assert direct == "scikit-learn 1.1.2 → 1.1.3: no wheel for Python 3.11"
    assert plan.requirements[1] == "scikit-learn==1.1.3; python_version>'3'"
    dep = plan.move("markupsafe", "2.1.1", "2.1.2", "no wheel")
    assert dep == "markupsafe 2.1.1 → 2.1.2 (a dependency, not pinned by the spec): no wheel"
    same = plan.move("pandas", "1.5.0", "1.5.0", "its wheel was published later")
    assert same == "pandas==1.5.0: its wheel was published later"
    assert plan.constraints == {"markupsafe": "markupsafe==2.1.2", "pandas": "pandas==1.5.0"}
    assert plan.changes == [direct, dep, same]

    policy = ResolutionPolicy(relax_pins=True, exclude_newer=datetime(2022, 10, 13, 0, 55, 57))
    args = install_args(plan, Path("/venv/bin/python"), policy, ["--find-links", "/w"], tmp_path)
    assert args[:6] == ["pip", "install", "--python", "/venv/bin/python", "--find-links", "/w"]
    assert args[args.index("--exclude-newer") + 1] == "2022-10-13T00:55:57Z"
    exempt = [args[i + 1] for i, a in enumerate(args) if a == "--exclude-newer-package"]
    assert [e.split("=")[0] for e in exempt] == ["markupsafe", "pandas", "scikit-learn", "xgboost"]
    assert (tmp_path / "ferry-constraints.txt").read_text() == "markupsafe==2.1.2\npandas==1.5.0\n"
    assert "scikit-learn==1.1.3" in (tmp_path / "ferry-requirements.txt").read_text()


def test_series() -> None:
    assert series("1.1.2") == "1.1."
    assert series("1.1.3.post0") == "1.1."
    assert series("2022.4") == "2022.4."
    assert series("7") == ""


def test_a_message_uv_wrapped_to_the_terminal_width_is_still_read() -> None:
    wrapped = """error: No solution found when resolving dependencies
  cause: Because definitely-not-a-package-xyz was not found in the package
         registry and you require definitely-not-a-package-xyz==1.0, we can
         conclude that your requirements are unsatisfiable.
"""
    found = diagnose(wrapped)
    assert (found.kind, found.package) == ("not-found", "definitely-not-a-package-xyz")
