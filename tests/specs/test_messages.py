"""Validation messages in the user's words: no pydantic union tags, class names or prefixes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ferry.errors import SpecError
from ferry.specs.assets import DataSpec, EnvironmentSpec
from ferry.specs.base import Spec
from ferry.specs.batch import BatchDeploymentSpec
from ferry.specs.loader import spec_from_data
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.workspace import ComputeSpec

INTERNAL = re.compile(r"function-after|Spec\b|\.str\b|instance of|Value error|\^\(")

DEPLOYMENT = {"name": "blue", "endpoint_name": "ep1"}


@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (
            BatchDeploymentSpec,
            {**DEPLOYMENT, "environment": {"conda_fil": "env.yml"}},
            "invalid batch deployment spec in f.yml: unknown field 'environment.conda_fil': "
            "did you mean 'conda_file'?",
        ),
        (
            BatchDeploymentSpec,
            {**DEPLOYMENT, "model": {"pth": "m"}},
            "missing required field 'model.path'",
        ),
        (
            OnlineDeploymentSpec,
            {**DEPLOYMENT, "model": 5},
            "invalid online deployment spec in f.yml: field 'model': expected a reference string "
            "or a mapping (key: value), not int",
        ),
        (
            BatchDeploymentSpec,
            {**DEPLOYMENT, "code_configuration": "score.py"},
            "field 'code_configuration': Input should be a mapping (key: value)",
        ),
        (
            EnvironmentSpec,
            {"name": "env"},
            "invalid environment spec in f.yml: set one of 'image', 'conda_file' or 'build'",
        ),
        (
            DataSpec,
            {"name": "d", "path": "x", "type": "uri_flder"},
            "field 'type': 'uri_flder' is not one of uri_file, uri_folder, mltable",
        ),
        (ComputeSpec, {"name": "c1", "type": "gpu"}, "'gpu' is not one of local, ray, amlcompute"),
        (
            BatchDeploymentSpec,
            {**DEPLOYMENT, "settings": {"mini_batchsize": 3}},
            "unknown field 'settings.mini_batchsize': did you mean 'mini_batch_size'?",
        ),
        (
            BatchDeploymentSpec,
            {**DEPLOYMENT, "colour": "red"},
            "unknown field 'colour': remove it or check its spelling",
        ),
    ],
)
def test_message_names_the_field_in_the_users_words(
    cls: type[Spec], data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SpecError) as info:
        spec_from_data(cls, data, source="f.yml", base_dir=Path.cwd())
    assert expected in info.value.message
    assert not INTERNAL.search(info.value.message), info.value.message
