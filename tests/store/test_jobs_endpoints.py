"""The jobs, endpoints and deployments tables: atomic job updates, indexed listings, cascades."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from ferry.errors import ConflictError, InvalidInputError, NotFoundError
from ferry.specs.states import DeploymentState, JobState
from ferry.store import Store
from ferry.store.sql import SqlStore
from ferry.store.sql_jobs import jobs_query


def _job(store: Store, name: str, endpoint: str = "ep", deployment: str = "blue") -> None:
    store.jobs.create(
        name,
        kind="batch",
        status=JobState.QUEUED,
        endpoint=endpoint,
        deployment=deployment,
        body={"input": {"path": f"azureml:{name}"}, "notices": [], "error": None},
    )


def test_a_job_is_created_once(store: Store) -> None:
    _job(store, "j1")
    record = store.jobs.get("j1")
    assert (record.kind, record.status, record.endpoint, record.deployment) == (
        "batch",
        JobState.QUEUED,
        "ep",
        "blue",
    )
    assert record.body == {"input": {"path": "azureml:j1"}, "notices": [], "error": None}
    with pytest.raises(ConflictError, match="a job named 'j1' exists already"):
        _job(store, "j1", endpoint="other")
    assert store.jobs.get("j1").endpoint == "ep"
    with pytest.raises(NotFoundError) as caught:
        store.jobs.get("nope")
    assert caught.value.message == "job 'nope' does not exist; list jobs with `ferry job list`."


def test_update_sets_the_status_and_merges_keys_keeping_nulls(store: Store) -> None:
    _job(store, "j1")
    before = store.jobs.get("j1")
    assert store.jobs.update(
        "j1",
        status=JobState.FAILED,
        changes={"error": "script_error: boom", "notices": ["a", "b"], "ended_at": "t1"},
    )
    failed = store.jobs.get("j1")
    assert failed.status is JobState.FAILED
    assert failed.body == {
        "input": {"path": "azureml:j1"},
        "notices": ["a", "b"],
        "error": "script_error: boom",
        "ended_at": "t1",
    }
    assert failed.updated_at >= before.updated_at and failed.created_at == before.created_at
    # None is stored as JSON null, not dropped: the record keeps every key it had.
    store.jobs.update("j1", status=JobState.QUEUED, changes={"error": None, "ended_at": None})
    assert store.jobs.get("j1").body["error"] is None
    assert "ended_at" in store.jobs.get("j1").body
    with pytest.raises(NotFoundError, match="job 'ghost' does not exist"):
        store.jobs.update("ghost", status=JobState.RUNNING)
    with pytest.raises(InvalidInputError, match=r"field name 'a\.b' is not an identifier"):
        store.jobs.update("j1", changes={"a.b": 1})


def test_a_conditional_update_is_a_transition(store: Store) -> None:
    _job(store, "j1")
    store.jobs.update("j1", status=JobState.RUNNING)
    queued = {JobState.QUEUED}
    assert not store.jobs.update("j1", status=JobState.CANCELED, when=queued)
    assert store.jobs.get("j1").status is JobState.RUNNING
    _job(store, "j2")
    assert store.jobs.update("j2", status=JobState.CANCELED, when=queued)
    assert store.jobs.get("j2").status is JobState.CANCELED


def test_concurrent_updates_of_one_job_lose_nothing(store: Store) -> None:
    """Each thread sets keys of its own; a read-modify-write would drop other threads' keys."""
    _job(store, "j1")
    threads, rounds = 8, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            start.wait()
            for r in range(rounds):
                store.jobs.update("j1", status=JobState.RUNNING, changes={f"t{t}_{r}": r})
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    body = store.jobs.get("j1").body
    assert {k: v for k, v in body.items() if k.startswith("t")} == {
        f"t{t}_{r}": r for t in range(threads) for r in range(rounds)
    }
    assert body["input"] == {"path": "azureml:j1"}


def test_jobs_list_by_endpoint_deployment_and_status_newest_first(store: Store) -> None:
    for i in range(6):
        _job(
            store, f"j{i}", endpoint="a" if i % 2 else "b", deployment="green" if i > 3 else "blue"
        )
    store.jobs.update("j5", status=JobState.COMPLETED)
    assert [r.name for r in store.jobs.list(endpoint="a")] == ["j5", "j3", "j1"]
    assert [r.name for r in store.jobs.list(endpoint="b", deployment="green")] == ["j4"]
    assert [r.name for r in store.jobs.list()] == ["j5", "j4", "j3", "j2", "j1", "j0"]
    done = store.jobs.list(statuses={JobState.COMPLETED})
    assert [r.name for r in done] == ["j5"]
    assert store.jobs.list(endpoint="none") == []
    assert [r.name for r in store.jobs.list(limit=2)] == ["j5", "j4"]
    assert [r.name for r in store.jobs.list(endpoint="a", limit=2)] == ["j5", "j3"]


def test_listing_an_endpoints_jobs_reads_its_index(store: Store) -> None:
    assert isinstance(store, SqlStore)
    engine = store.engine
    query = jobs_query(endpoint="a").compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text(f"EXPLAIN QUERY PLAN {query}"))
            plan = " ".join(str(row[-1]) for row in rows)
            assert "SEARCH jobs USING INDEX ix_jobs_endpoint_created_at" in plan, plan
        else:
            # An empty table is read sequentially whatever its indexes; forbid that to see
            # whether an index can answer the query.
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(row[0]) for row in connection.execute(text(f"EXPLAIN {query}")))
            assert "ix_jobs_endpoint_created_at" in plan, plan


def test_endpoints_and_deployments_by_kind(store: Store) -> None:
    store.endpoints.put("batch", "ep", {"description": "b"})
    store.endpoints.put("online", "ep", {"auth_mode": "key", "traffic": {}})
    record, created = store.endpoints.put("batch", "ep", {"description": "b2"})
    assert not created and record.body == {"description": "b2"}
    assert record.status is DeploymentState.SUCCEEDED
    assert [r.kind for r in [store.endpoints.get("online", "ep")]] == ["online"]
    store.deployments.put("batch", "ep", "blue", {"model": "azureml:m:1"})
    store.deployments.put("batch", "ep", "alpha", {"model": "azureml:m:2"})
    store.deployments.put("batch", "other", "blue", {})
    store.deployments.put("online", "ep", "blue", {"error": None}, DeploymentState.CREATING)
    assert [r.name for r in store.deployments.list("batch", "ep")] == ["alpha", "blue"]
    assert [(r.endpoint, r.name) for r in store.deployments.list("batch")] == [
        ("ep", "alpha"),
        ("ep", "blue"),
        ("other", "blue"),
    ]
    online = store.deployments.get("online", "ep", "blue")
    assert online.status is DeploymentState.CREATING
    assert store.deployments.set_status(
        "online", "ep", "blue", DeploymentState.FAILED, {"error": "init() raised"}
    )
    online = store.deployments.get("online", "ep", "blue")
    assert (online.status, online.body) == (DeploymentState.FAILED, {"error": "init() raised"})
    assert not store.deployments.set_status("online", "ep", "gone", DeploymentState.SUCCEEDED)
    with pytest.raises(NotFoundError) as caught:
        store.deployments.get("batch", "ep", "gone")
    assert caught.value.message == (
        "batch deployment 'gone' of endpoint 'ep' does not exist; list them with "
        "`ferry batch-deployment list --endpoint-name ep`."
    )


def test_deleting_an_endpoint_deletes_its_deployments_only(store: Store) -> None:
    store.endpoints.put("batch", "ep", {})
    store.endpoints.put("online", "ep", {})
    store.deployments.put("batch", "ep", "blue", {})
    store.deployments.put("online", "ep", "blue", {})
    store.endpoints.delete("batch", "ep")
    assert store.deployments.list("batch") == []
    assert [r.name for r in store.deployments.list("online", "ep")] == ["blue"]
    with pytest.raises(NotFoundError) as caught:
        store.endpoints.delete("batch", "ep")
    assert caught.value.message == (
        "batch endpoint 'ep' does not exist; list them with `ferry batch-endpoint list`."
    )
