"""Deployments survive a server restart: the server brings them back from the store."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from ferry import MLClient
from ferry.errors import FerryError
from ferry.local_workspace.launcher import stop_server
from ferry.settings import Settings
from tests.online.conftest import deploy, make_endpoint, scoring, wait_for, write_code


def test_deployments_come_back_after_a_restart(tmp_path: Path, http: httpx.Client) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    code = write_code(
        tmp_path / "src",
        "import os\n\ndef init():\n    pass\n\ndef run(raw):\n    return os.environ['GREETING']\n",
    )
    with MLClient(settings=settings) as first:
        make_endpoint(first, "keep-ep")
        deploy(first, "keep-ep", "main", code, environment_variables={"GREETING": "hello"})
        uri, headers = scoring(first, "keep-ep")
        assert http.post(uri, content=b"{}", headers=headers).json() == "hello"
        old_pid = first.online_deployments.get("main", "keep-ep").replicas[0]["pid"]
    stop_server(settings)

    def exited() -> bool:
        try:
            os.kill(old_pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(exited, 10, "the old server's replica to stop with it")
    try:
        with MLClient(settings=settings) as second:  # starts a new server process

            def serving() -> bool:
                shown = second.online_deployments.get("main", "keep-ep")
                return shown.provisioning_state == "Succeeded" and bool(shown.replicas)

            wait_for(serving, 30, "the deployment to come back")
            new_uri, new_headers = scoring(second, "keep-ep")
            assert new_headers == headers  # the keys are kept in the store
            response = http.post(new_uri, content=b"{}", headers=headers)
            assert response.status_code == 200 and response.json() == "hello"
            replica = second.online_deployments.get("main", "keep-ep").replicas[0]
            assert replica["pid"] != old_pid
    finally:
        stop_server(settings)


def test_update_swaps_in_the_new_version_and_a_failed_update_keeps_the_old(
    tmp_path: Path, http: httpx.Client
) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    script = "import os\n\ndef init():\n    {init}\n\ndef run(raw):\n    return os.environ['V']\n"
    code = write_code(tmp_path / "src", script.format(init="pass"))
    broken = write_code(tmp_path / "broken", script.format(init="raise RuntimeError('nope')"))
    try:
        with MLClient(settings=settings) as client:
            make_endpoint(client, "roll-ep")
            deploy(client, "roll-ep", "main", code, environment_variables={"V": "1"})
            uri, headers = scoring(client, "roll-ep")
            assert http.post(uri, content=b"{}", headers=headers).json() == "1"
            deploy(client, "roll-ep", "main", code, environment_variables={"V": "2"})
            assert http.post(uri, content=b"{}", headers=headers).json() == "2"
            try:
                deploy(client, "roll-ep", "main", broken, environment_variables={"V": "3"})
            except FerryError as exc:
                assert "RuntimeError: nope" in exc.message
                assert "the previous version of the deployment keeps serving" in exc.message
            else:
                raise AssertionError("the broken update should have failed")
            assert http.post(uri, content=b"{}", headers=headers).json() == "2"
    finally:
        stop_server(settings)


def test_update_right_after_create_and_scaling_both_ways(
    tmp_path: Path, http: httpx.Client
) -> None:
    settings = Settings(workspace=tmp_path / "ws")
    code = write_code(
        tmp_path / "src", "import os\n\ndef init():\n    pass\n\ndef run(raw):\n    return 'ok'\n"
    )
    try:
        with MLClient(settings=settings) as client:
            make_endpoint(client, "scale-ep")
            # The second update starts while the first version's replicas are still starting.
            from ferry import ManagedOnlineDeployment
            from ferry.client.entities import CodeConfiguration
            from ferry.services.references import SERVER_PYTHON

            first = ManagedOnlineDeployment(
                name="main",
                endpoint_name="scale-ep",
                environment=SERVER_PYTHON,
                code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
            )
            client.online_deployments.begin_create_or_update(first, all_traffic=True)
            deploy(client, "scale-ep", "main", code, instance_count=1)
            uri, headers = scoring(client, "scale-ep")
            assert http.post(uri, content=b"{}", headers=headers).json() == "ok"
            for count in (2, 1):
                state = deploy(client, "scale-ep", "main", code, instance_count=count)
                assert state.provisioning_state == "Succeeded"
                assert http.post(uri, content=b"{}", headers=headers).json() == "ok"
    finally:
        stop_server(settings)
