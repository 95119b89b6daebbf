"""The invoke body's forms resolved without a server: ids, durations, dotted keys, outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.errors import SpecError
from ferry.server.routes.jobs import media_type
from ferry.specs.invoke import InvokeRequest, azure_uri
from ferry.specs.invoke_overrides import flatten_overrides, iso_seconds

INPUT = {"input": {"path": "azureml:d:1"}}


@pytest.mark.parametrize(
    ("uri", "short"),
    [
        (
            "azureml://subscriptions/s/resourceGroups/r/workspaces/w/data/heart/versions/3",
            "azureml:heart:3",
        ),
        ("azureml://locations/eastus/workspaces/w/data/heart/versions/1/", "azureml:heart:1"),
        (
            "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/blob/paths/a/b",
            "azureml://datastores/blob/paths/a/b",
        ),
        ("azureml://datastores/blob/paths/a", "azureml://datastores/blob/paths/a"),
        ("azureml:heart@latest", "azureml:heart@latest"),
    ],
)
def test_azure_ids_become_short_references(uri: str, short: str) -> None:
    assert azure_uri(uri) == short


@pytest.mark.parametrize(
    ("value", "seconds"), [("PT30S", 30), ("PT2M", 120), ("PT1H1M1S", 3661), (45, 45), ("60", 60)]
)
def test_durations(value: int | str, seconds: int) -> None:
    assert iso_seconds(value, field="t") == seconds


def test_dotted_and_nested_keys_flatten_later_entries_winning() -> None:
    overrides, output = flatten_overrides(
        [
            ("properties", {"mini_batch_size": 2, "environment_variables": {"A": 1, "B": "x"}}),
            (
                "params_override",
                {"compute": {"instance_count": "2"}, "retry_settings.timeout": "PT1M"},
            ),
            ("ParameterAssignments", {"environment_variables.A": "2", "mini_batch_size": "7"}),
            ("ParameterAssignments", {"output_dataset.path": "/out/x"}),
        ]
    )
    assert overrides == {
        "mini_batch_size": 7,
        "instance_count": 2,
        "timeout": 60,
        "environment_variables": {"A": "2", "B": "x"},
    }
    assert output == "azureml://datastores/workspaceblobstore/paths/out/x"


def test_a_datastore_without_a_path_is_refused() -> None:
    with pytest.raises(SpecError, match=r"output_dataset\.datastore_id needs output_dataset\.path"):
        flatten_overrides([("params_override", {"output_dataset.datastore_id": "blob"})])


def _resolve(body: dict[str, Any]) -> Any:
    return InvokeRequest.model_validate(body).resolve("from-header")


def test_output_data_uri_file_names_the_output_file() -> None:
    got = _resolve(
        {
            **INPUT,
            "properties": {
                "outputData": {
                    "score": {
                        "jobOutputType": "uri_file",
                        "uri": "azureml://datastores/b/paths/o/r.csv",
                    }
                }
            },
        }
    )
    assert got.output_path == "azureml://datastores/b/paths/o"
    assert got.overrides == {"output_file_name": "r.csv"}
    assert got.deployment_name == "from-header"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                **INPUT,
                "properties": {"OutputData": {"preds": {"Uri": "azureml://datastores/b/paths/o"}}},
            },
            "properties.OutputData names 'preds'; a model deployment's one output is 'score'",
        ),
        (
            {
                **INPUT,
                "output_path": "azureml://datastores/b/paths/o",
                "ParameterAssignments": {"output_dataset.path": "p"},
            },
            "the invoke names its output twice (output_path, output_dataset)",
        ),
        (
            {**INPUT, "DataPathAssignments": {"x": {"DataStoreName": "b", "RelativePath": "p"}}},
            "the invoke names its input twice (input, DataPathAssignments)",
        ),
    ],
)
def test_conflicts_are_named(body: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        _resolve(body)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("name", "media"),
    [
        ("logs/job_result.txt", "text/plain; charset=utf-8"),
        ("logs/user/stdout/x.log", "text/plain; charset=utf-8"),
        ("named-outputs/score/predictions.csv", "text/csv; charset=utf-8"),
        ("named-outputs/score/a.png", "image/png"),
        ("named-outputs/score/a.csv.gz", "application/gzip"),
        ("named-outputs/score/blob.weights", "application/octet-stream"),
    ],
)
def test_job_file_media_types(name: str, media: str) -> None:
    assert media_type(Path(name)) == media
