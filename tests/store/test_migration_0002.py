"""Revision 0002 upgrades a workspace in place: jobs, endpoints and deployments leave the JSON bag
of ``named_resources`` for their own tables, with every field, and a downgrade puts them back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ferry.specs.states import DeploymentState, JobState
from ferry.store import open_store
from ferry.store.engine import create_store_engine
from ferry.store.schema import MIGRATIONS_DIR, current_revisions
from ferry.store.tables import NamedResourceRow

_T0 = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)

# What the previous Ferry wrote, kind by kind (server/jobs.py, services/batch.py, online.py).
_JOB = {
    "name": "batchjob-1",
    "type": "batch",
    "endpoint_name": "digits",
    "deployment_name": "blue",
    "status": "Failed",
    "input": {"type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/x"},
    "overrides": {"mini_batch_size": 5},
    "output_path": None,
    "allow_reuse": False,
    "experiment_name": "exp",
    "description": None,
    "tags": {"team": "a"},
    "notices": ["python 3.10 chosen"],
    "error": "2 items failed, over the error_threshold of 0",
    "started_at": "2026-11-30T08:00:01+00:00",
    "ended_at": "2026-11-30T08:00:09+00:00",
    "fingerprint": "ab" * 32,
}
_QUEUED_JOB = {**_JOB, "name": "batchjob-2", "endpoint_name": "other", "status": "Queued"}
_BATCH_ENDPOINT = {"name": "digits", "description": "d", "defaults": {"deployment_name": "blue"}}
_BATCH_DEPLOYMENT = {
    "name": "blue",
    "endpoint_name": "digits",
    "model": "azureml:digits:1",
    "code_configuration": {"code": "azureml:code-1:1", "scoring_script": "score.py"},
    "settings": {"mini_batch_size": 10},
}
_ONLINE_ENDPOINT = {"name": "digits", "auth_mode": "key", "traffic": {"green": 100}}
_ONLINE_DEPLOYMENT = {
    "name": "green",
    "endpoint_name": "digits",
    "model": "azureml:digits:1",
    "instance_count": 2,
    "provisioning_state": "Failed",
    "error": "replica green-0 failed in init()",
}
_DATASTORE = {"name": "workspaceblobstore", "type": "azure_blob"}

_BAG = [
    ("job", "batchjob-1", _JOB),
    ("job", "batchjob-2", _QUEUED_JOB),
    ("batch-endpoint", "digits", _BATCH_ENDPOINT),
    ("batch-deployment", "digits/blue", _BATCH_DEPLOYMENT),
    ("online-endpoint", "digits", _ONLINE_ENDPOINT),
    ("online-deployment", "digits/green", _ONLINE_DEPLOYMENT),
    ("datastore", "workspaceblobstore", _DATASTORE),
]


def _config(engine_connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = engine_connection
    return config


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    with engine.execution_options(ferry_write=True).begin() as connection:
        step = command.upgrade if direction == "up" else command.downgrade
        step(_config(connection), revision)


@pytest.fixture
def old_workspace(store_url: str) -> Iterator[Engine]:
    """A store at revision 0001 holding every kind in the bag, as the previous Ferry left it."""
    engine, _ = create_store_engine(store_url)
    try:
        _migrate(engine, "up", "0001")
        with Session(engine) as session, session.begin():
            for i, (kind, name, spec) in enumerate(_BAG):
                stamp = _T0 + timedelta(minutes=i)
                session.add(
                    NamedResourceRow(
                        kind=kind,
                        name=name,
                        spec=spec,
                        created_at=stamp,
                        updated_at=stamp + timedelta(seconds=30),
                    )
                )
        yield engine
    finally:
        engine.dispose()


def _bag(engine: Engine) -> list[tuple[str, str, dict[str, Any], datetime, datetime]]:
    with Session(engine) as session:
        rows = session.scalars(select(NamedResourceRow).order_by(NamedResourceRow.created_at))
        return [(r.kind, r.name, r.spec, r.created_at, r.updated_at) for r in rows]


def test_the_upgrade_moves_every_job_endpoint_and_deployment(
    old_workspace: Engine, store_url: str
) -> None:
    store = open_store(store_url)  # what `ferry server start` does: upgrade in place
    try:
        job = store.jobs.get("batchjob-1")
        assert (job.kind, job.status, job.endpoint, job.deployment) == (
            "batch",
            JobState.FAILED,
            "digits",
            "blue",
        )
        rest = {
            k: v
            for k, v in _JOB.items()
            if k not in ("name", "type", "status", "endpoint_name", "deployment_name")
        }
        assert job.body == rest
        assert (job.created_at, job.updated_at) == (_T0, _T0 + timedelta(seconds=30))
        assert [r.name for r in store.jobs.list(endpoint="other")] == ["batchjob-2"]
        assert [r.name for r in store.jobs.list(statuses={JobState.QUEUED})] == ["batchjob-2"]

        endpoint = store.endpoints.get("batch", "digits")
        assert endpoint.body == {"description": "d", "defaults": {"deployment_name": "blue"}}
        assert endpoint.status is DeploymentState.SUCCEEDED
        assert endpoint.created_at == _T0 + timedelta(minutes=2)
        deployment = store.deployments.get("batch", "digits", "blue")
        assert {"name": "blue", "endpoint_name": "digits", **deployment.body} == _BATCH_DEPLOYMENT
        online = store.endpoints.get("online", "digits")
        assert online.body == {"auth_mode": "key", "traffic": {"green": 100}}
        green = store.deployments.get("online", "digits", "green")
        assert green.status is DeploymentState.FAILED
        assert green.body == {
            "model": "azureml:digits:1",
            "instance_count": 2,
            "error": "replica green-0 failed in init()",
        }
        # Only the moved kinds left the bag.
        assert [r.name for r in store.resources.all("datastore")] == ["workspaceblobstore"]
        for kind in ("job", "batch-endpoint", "batch-deployment", "online-endpoint"):
            assert list(store.resources.all(kind)) == []
        # And the moved records work as new ones do.
        assert store.jobs.update("batchjob-2", status=JobState.RUNNING, changes={"x": 1})
        assert store.jobs.get("batchjob-2").body["x"] == 1
    finally:
        store.close()


def test_a_downgrade_puts_the_bag_back_as_it_was(old_workspace: Engine) -> None:
    before = _bag(old_workspace)
    _migrate(old_workspace, "up", "head")
    assert [row[0] for row in _bag(old_workspace)] == ["datastore"]
    _migrate(old_workspace, "down", "0001")
    with old_workspace.connect() as connection:
        assert current_revisions(connection) == ("0001",)
    assert _bag(old_workspace) == before
