"""A batch deployment's script fields: ``arguments`` (or ``program_arguments``), ``init_timeout``
and ``properties.ferry_secrets``, as YAML, ``--set`` and invoke overrides give them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ferry.errors import InvalidInputError
from ferry.server.job_prepare import apply_overrides, init_timeout_of
from ferry.specs.base import spec_error
from ferry.specs.batch import DEFAULT_INIT_TIMEOUT, BatchDeploymentSpec
from ferry.specs.scoring import granted_secrets, split_arguments


def _spec(**fields: Any) -> BatchDeploymentSpec:
    return BatchDeploymentSpec.model_validate({"name": "dep", **fields})


def test_arguments_as_a_list_or_one_line_under_either_name() -> None:
    listed = _spec(settings={"arguments": ["--model_name", "mosaic", "--n", 5]})
    assert listed.effective_settings().arguments == ["--model_name", "mosaic", "--n", "5"]
    line = _spec(settings={"program_arguments": "--label_dir 'a b' --flag"})
    assert line.effective_settings().arguments == ["--label_dir", "a b", "--flag"]
    legacy = _spec(program_arguments="--x 1", init_timeout=30)
    assert legacy.effective_settings().arguments == ["--x", "1"]
    assert legacy.effective_settings().init_timeout == 30
    assert _spec().effective_settings().init_timeout == DEFAULT_INIT_TIMEOUT < 600


def test_root_arguments_join_a_settings_block() -> None:
    spec = _spec(settings={"mini_batch_size": 3}, arguments="--a 1", init_timeout=9)
    settings = spec.to_stored()["settings"]
    assert settings["arguments"] == ["--a", "1"]
    assert settings["init_timeout"] == 9 and settings["mini_batch_size"] == 3


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"settings": {"arguments": "--a 'open"}}, "arguments: cannot split"),
        ({"settings": {"arguments": [{"a": 1}]}}, "each argument must be a string or a number"),
        ({"settings": {"arguments": 5}}, "arguments must be a list of words"),
        ({"settings": {"init_timeout": 0}}, "settings.init_timeout"),
        (
            {"settings": {"arguments": ["-a"]}, "program_arguments": "-b"},
            "program_arguments is given both at the root and under settings",
        ),
    ],
)
def test_bad_script_fields_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _spec(**fields)
    assert message in spec_error(caught.value, what="batch deployment").message


def test_ferry_secrets_as_a_yaml_list_and_secret_references_grant() -> None:
    spec = _spec(
        properties={"ferry_secrets": ["kv-a", "kv-b"]},
        settings={"environment_variables": {"KEY": "${{secrets.kv-c}}", "PLAIN": "x"}},
    )
    assert spec.properties["ferry_secrets"] == "kv-a,kv-b"
    names = granted_secrets(spec.properties, [spec.effective_settings().environment_variables])
    assert names == ["kv-a", "kv-b", "kv-c"]


def test_invoke_overrides_of_arguments_and_init_timeout() -> None:
    spec = _spec(settings={"arguments": ["--a", "1"], "init_timeout": 60})
    assert apply_overrides(spec, {})["arguments"] == ["--a", "1"]
    merged = apply_overrides(spec, {"program_arguments": "--b 2", "init_timeout": "15"})
    assert merged["arguments"] == ["--b", "2"] and merged["init_timeout"] == 15
    with pytest.raises(InvalidInputError, match="init_timeout='soon' must be a whole number"):
        apply_overrides(spec, {"init_timeout": "soon"})
    with pytest.raises(InvalidInputError, match="arguments must be a list of words"):
        apply_overrides(spec, {"arguments": {"a": 1}})


def test_split_arguments_keeps_words() -> None:
    assert split_arguments(None) == []
    assert split_arguments([True, 1.5]) == ["true", "1.5"]


def test_prs_first_task_creation_timeout_in_the_arguments_sets_the_init_timeout() -> None:
    spec = _spec(settings={"arguments": "--first_task_creation_timeout 45 --model m"})
    assert init_timeout_of(apply_overrides(spec, {})) == 45
    merged = apply_overrides(spec, {"arguments": ["--first_task_creation_timeout=7"]})
    assert init_timeout_of(merged) == 7
    assert init_timeout_of(apply_overrides(spec, {"arguments": []})) == DEFAULT_INIT_TIMEOUT
    with pytest.raises(InvalidInputError, match="--first_task_creation_timeout needs a number"):
        apply_overrides(spec, {"arguments": "--first_task_creation_timeout soon"})
