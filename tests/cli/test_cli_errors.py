"""Exit codes and messages: 1 with one ``ERROR:`` line for user errors, 2 for usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Ferry


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ERROR: "), stderr
    return lines[0]


def test_bad_name_quotes_the_rule(ferry: Ferry, tmp_path: Path) -> None:
    result = ferry("model", "create", "--name", "bad name!", "--path", tmp_path, expect=1)
    line = _one_error_line(result.stderr)
    assert "'bad name!'" in line
    assert "letters, digits, '-', '_' or '.'" in line
    assert "regex [A-Za-z0-9]" in line
    assert result.stdout == ""


def test_missing_path_names_the_path(ferry: Ferry, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = ferry("model", "create", "--name", "m", "--path", missing, expect=1)
    assert str(missing) in _one_error_line(result.stderr)


def test_unknown_yaml_field_names_the_field(ferry: Ferry, tmp_path: Path) -> None:
    spec = tmp_path / "model.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: m\npath: .\nflavours: {}\n",
        encoding="utf-8",
    )
    line = _one_error_line(ferry("model", "create", "-f", spec, expect=1).stderr)
    assert "unknown field 'flavours'" in line
    assert str(spec) in line


def test_missing_spec_file_names_it(ferry: Ferry, tmp_path: Path) -> None:
    line = _one_error_line(ferry("data", "create", "-f", tmp_path / "nope.yml", expect=1).stderr)
    assert "nope.yml" in line


def test_not_found_and_immutable_update(ferry: Ferry) -> None:
    line = _one_error_line(ferry("model", "show", "--name", "ghost", expect=1).stderr)
    assert "ghost" in line
    line = _one_error_line(
        ferry("model", "update", "-n", "x", "-v", "1", "--set", "k", expect=1).stderr
    )
    assert "key=value" in line


def test_debug_adds_the_traceback(ferry: Ferry) -> None:
    result = ferry("model", "show", "--name", "ghost", "--debug", expect=1)
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ERROR: ")


@pytest.mark.parametrize(
    "args",
    [
        ("model", "list", "--no-such-option"),
        ("model", "show"),  # --name is required
        ("model", "create", "--name", "m", "--path", ".", "--type", "onnx_model"),
        ("model", "list", "-o", "xml"),
        ("model", "list", "--query", "[?"),
        ("secret", "set", "token"),  # neither --value nor --from-file
        ("no-such-group", "list"),
    ],
)
def test_usage_errors_exit_2(ferry: Ferry, args: tuple[str, ...]) -> None:
    result = ferry(*args, expect=2)
    assert "Usage:" in result.stderr or "Error:" in result.stderr
