"""``ferry environment build``: a real uv virtualenv from a tiny conda file, then reused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ferry.cli.environment_build import parse_reference
from tests.cli.conftest import Ferry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env@3", ("env", "3")),
        ("env:3", ("env", "3")),
        ("azureml:env:3", ("env", "3")),
        ("azureml:env@latest", ("env", None)),
        ("env@latest", ("env", None)),
        ("env", ("env", None)),
    ],
)
def test_reference_forms(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_reference(text) == expected


def test_build_prints_the_facts_then_reuses(ferry: Ferry, tmp_path: Path) -> None:
    conda = tmp_path / "conda.yml"
    conda.write_text(
        "name: tiny\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.16.0\n",
        encoding="utf-8",
    )
    ferry("environment", "create", "--name", "tiny-env", "--conda-file", conda, "-o", "none")

    facts = ferry.json("environment", "build", "tiny-env@1")
    assert (facts["name"], facts["version"]) == ("tiny-env", "1")
    assert set(facts) >= {"hash", "python", "reused", "notices", "changes", "log_path"}
    assert Path(facts["log_path"]).is_file()
    version = subprocess.run(
        [facts["python"], "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == "1.16.0"

    for reference in ("azureml:tiny-env:1", "tiny-env:1", "tiny-env@latest"):
        again = ferry.json("environment", "build", reference)
        assert (again["hash"], again["reused"]) == (facts["hash"], True)
    by_flags = ferry(
        "environment", "build", "-n", "tiny-env", "-v", "1", "--query", "reused", "-o", "tsv"
    )
    assert by_flags.stdout == "true\n"
