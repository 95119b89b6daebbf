"""The v1 ``azureml.core`` shim's Key Vault and inputs, and the output-folder watch, in-process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.runtime import keyvault
from ferry.runtime.azureml_core import Run, Workspace
from ferry.runtime.output_watch import OutputWatch


@pytest.fixture
def granted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        keyvault.SECRETS_ENV: json.dumps({"api-key": "s3cret", "db": "pw"}),
        keyvault.GRANT_ENV: "ferry batch-deployment update --endpoint-name e --name d",
    }
    keyvault.take_from_environ(env)
    yield env
    keyvault.configure({})


def test_take_from_environ_removes_the_values_from_the_environment(
    granted: dict[str, str],
) -> None:
    assert granted == {}  # what a subprocess of the script would inherit holds no secret
    assert keyvault.granted_names() == ["api-key", "db"]


def test_workspace_keyvault_and_run_read_granted_secrets(granted: dict[str, str]) -> None:
    run = Run.get_context()
    vault = run.experiment.workspace.get_default_keyvault()
    assert vault.get_secret(name="api-key") == "s3cret"
    assert run.get_secret("db") == "pw"
    assert vault.get_secrets(["api-key", "db"]) == {"api-key": "s3cret", "db": "pw"}
    assert Workspace.from_config().get_default_keyvault().list_secrets() == [
        {"name": "api-key"},
        {"name": "db"},
    ]


def test_an_ungranted_secret_is_refused_with_the_grant_command(granted: dict[str, str]) -> None:
    vault = Run.get_context().experiment.workspace.get_default_keyvault()
    with pytest.raises(keyvault.SecretNotGrantedError) as caught:
        vault.get_secret("other")
    message = str(caught.value)
    assert "secret 'other' is not granted to this deployment (it may read: api-key, db)" in message
    assert "properties: {ferry_secrets: [api-key, db, other]}" in message
    assert (
        "`ferry batch-deployment update --endpoint-name e --name d --set "
        "properties.ferry_secrets=api-key,db,other`" in message
    )
    with pytest.raises(PermissionError, match="ferry secret set other"):
        vault.set_secret("other", "x")


def test_nothing_granted_says_none() -> None:
    keyvault.take_from_environ({})
    with pytest.raises(keyvault.SecretNotGrantedError, match=r"it may read: none"):
        Run.get_context().get_secret("x")


def test_input_datasets_on_the_class_and_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_INPUT_DATASETS", json.dumps({"images": "/data/images"}))
    assert Run.input_datasets == {"images": "/data/images"}
    assert Run.get_context().input_datasets["images"] == "/data/images"
    monkeypatch.delenv("FERRY_INPUT_DATASETS")
    assert Run.input_datasets == {}


def test_output_watch_sees_writes_below_the_folder_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "existing.txt").write_text("x")
    watch = OutputWatch(str(out))
    (out / "before.txt").write_text("not watched yet")
    watch.start()
    (out / "a.txt").write_text("pathlib")
    with open(str(out / "sub" / "b.csv"), "a") as f:  # noqa: PTH123 - a script's builtin open
        f.write("append")
    fd = os.open(out / "c.bin", os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    (out / "existing.txt").read_text()  # reading is not writing
    (tmp_path / "elsewhere.txt").write_text("outside the output folder")
    written = watch.stop()
    (out / "after.txt").write_text("no longer watched")
    assert written == ["a.txt", str(Path("sub", "b.csv")), "c.bin"]
