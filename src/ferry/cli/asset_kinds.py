"""The four asset groups: their ``create`` flags (as ``az ml``) and the fields they set."""

from __future__ import annotations

from typing import Any

import click

from ferry.cli.assets import AssetKindCli, asset_group
from ferry.cli.environment_build import build as environment_build
from ferry.cli.params import local_path
from ferry.client import Code, Data, Environment, Model

__all__ = ["code", "data", "environment", "model"]

_ALL_VERBS = ("create", "show", "list", "download", "archive", "restore", "update")


def _path_option(help_text: str) -> Any:
    return click.option("-p", "--path", help=help_text)


def _model_fields(flags: dict[str, Any]) -> dict[str, Any]:
    return {"path": local_path(flags["path"]), "type": flags["type"], "stage": flags["stage"]}


def _data_fields(flags: dict[str, Any]) -> dict[str, Any]:
    return {"path": local_path(flags["path"]), "type": flags["type"]}


def _environment_fields(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "image": flags["image"],
        "conda_file": local_path(flags["conda_file"]),
        "build.path": local_path(flags["build_context"]),
        "build.dockerfile_path": flags["dockerfile_path"],
        "os_type": flags["os_type"],
    }


def _code_fields(flags: dict[str, Any]) -> dict[str, Any]:
    return {"path": local_path(flags["path"])}


model = asset_group(
    AssetKindCli(
        noun="model",
        summary="Register, list and download models (az ml model).",
        entity=Model,
        operations=lambda ml: ml.models,
        create_options=(
            _path_option("Local file or folder to upload, or a datastore URI."),
            click.option(
                "-t",
                "--type",
                type=click.Choice(["custom_model", "mlflow_model", "triton_model"]),
                help="Model type (default: custom_model).",
            ),
            click.option("-s", "--stage", help="Free-form stage label, e.g. Production."),
        ),
        create_fields=_model_fields,
        example="ferry model create --name m --path ./model --type custom_model",
        verbs=_ALL_VERBS,
    )
)

data = asset_group(
    AssetKindCli(
        noun="data",
        summary="Register, list and download data assets (az ml data).",
        entity=Data,
        operations=lambda ml: ml.data,
        create_options=(
            _path_option("Local file or folder to upload, or a datastore URI."),
            click.option(
                "-t",
                "--type",
                type=click.Choice(["uri_file", "uri_folder", "mltable"]),
                help="Data type (default: uri_folder).",
            ),
        ),
        create_fields=_data_fields,
        example="ferry data create -f heart-dataset-unlabeled.yml",
        verbs=_ALL_VERBS,
    )
)

environment = asset_group(
    AssetKindCli(
        noun="environment",
        summary="Register and list environments (az ml environment).",
        entity=Environment,
        operations=lambda ml: ml.environments,
        create_options=(
            click.option("-i", "--image", help="Base container image."),
            click.option("-c", "--conda-file", help="Conda YAML file with the dependencies."),
            click.option("-b", "--build-context", help="Folder with a Dockerfile and its context."),
            click.option("--dockerfile-path", help="Dockerfile path inside the build context."),
            click.option(
                "--os-type", type=click.Choice(["linux", "windows"]), help="Default: linux."
            ),
        ),
        create_fields=_environment_fields,
        example="ferry environment create --name env --conda-file conda.yaml --image python:3.11",
        verbs=("create", "show", "list", "archive", "restore", "update"),
    )
)
environment.add_command(environment_build)  # a Ferry addition: build the virtualenv ahead

code = asset_group(
    AssetKindCli(
        noun="code",
        summary="Register and show code snapshots (az ml code).",
        entity=Code,
        operations=lambda ml: ml.code,
        create_options=(_path_option("Local folder to snapshot."),),
        create_fields=_code_fields,
        example="ferry code create --name src --path ./src",
        verbs=("create", "show", "list"),
    )
)
