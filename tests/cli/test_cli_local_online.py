"""``ferry online-deployment serve``: a deployment's score.py served locally, in process.

Real processes on real ports: Azure's model-1 sample (its blue-deployment.yml with local paths),
a failing run() and init(), --reload picking up an edited score.py, and the flags' errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli.local_serve import clean_env, serve
from tests.conftest import EXAMPLES

REPO = Path(__file__).resolve().parents[2]
MODEL_1 = EXAMPLES / "online" / "model-1"

FAILING_RUN = """\
import os

def init():
    global greeting
    greeting = os.environ["GREETING"]

def run(raw_data):
    data = {"name": "x"}
    return greeting + " " + data["missing"]
"""


def _write(folder: Path, script: str, yaml_extra: str = "") -> Path:
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "score.py").write_text(script)
    deployment = folder / "deployment.yml"
    deployment.write_text(
        textwrap.dedent(
            """\
            name: blue
            endpoint_name: my-endpoint
            code_configuration:
              code: code
              scoring_script: score.py
            environment_variables:
              GREETING: hello
            """
        )
        + yaml_extra
    )
    return deployment


def _run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_answers_azures_model_1_sample_as_its_deployment_would(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "online-sklearn" / "onlinescoring", tmp_path / "code")
    (tmp_path / "blue-deployment.yml").write_text(
        textwrap.dedent(
            f"""\
            $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
            name: blue
            endpoint_name: my-endpoint
            model:
              path: {MODEL_1 / "model"}
            code_configuration:
              code: code
              scoring_script: score.py
            environment:
              conda_file: {MODEL_1 / "environment" / "conda.yaml"}
              image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
            instance_type: Standard_DS3_v2
            instance_count: 1
            """
        )
    )
    request = json.loads((MODEL_1 / "sample-request.json").read_text())
    args = ("-f", "blue-deployment.yml", "--local")
    with serve(clean_env(tmp_path / "ws"), *args, cwd=tmp_path) as served:
        status, answer = served.score(request)
        assert status == 200, answer
        assert len(answer) == 2 and all(isinstance(v, float) for v in answer)
        assert served.request("/")[0] == 200  # liveness, as the gateway's probe asks
        status, _, body = served.request("/swagger.json")
        assert status == 404 and b"@input_schema" in body  # undecorated run(), no swagger file


def test_a_failing_run_shows_its_line_in_the_answer_and_on_stderr(tmp_path: Path) -> None:
    deployment = _write(tmp_path, FAILING_RUN)
    with serve(clean_env(tmp_path / "ws"), "-f", deployment, cwd=tmp_path) as served:
        status, headers, body = served.request("/score", b'{"a": 1}')
        answer = json.loads(body)
        assert status == 424, answer
        assert headers["ms-azureml-model-error-statuscode"] == "500"
        assert answer["details"]["file"] == str(tmp_path / "code" / "score.py")
        assert answer["details"]["line"] == 9
        assert answer["details"]["source"] == 'return greeting + " " + data["missing"]'
        assert "score.py:9" in answer["message"] and "KeyError" in answer["message"]
    stderr = "".join(served.stderr)
    assert "run() failed: KeyError: 'missing'" in stderr
    assert 'at score.py:9 in run(): return greeting + " " + data["missing"]' in stderr


def test_reload_picks_up_an_edited_score_py(tmp_path: Path) -> None:
    script = FAILING_RUN.replace('data["missing"]', 'data["name"]')
    deployment = _write(tmp_path, script)
    with serve(clean_env(tmp_path / "ws"), "-f", deployment, "--reload", cwd=tmp_path) as served:
        assert served.score({}) == (200, "hello x")
        (tmp_path / "code" / "score.py").write_text(script.replace('" "', '" again "'))
        served.wait_for_output("reloaded in")
        assert served.score({}) == (200, "hello again x")
        # A broken save keeps the server up, answering 503 with the failing line ...
        (tmp_path / "code" / "score.py").write_text(script.replace("os.environ", "os.environs"))
        served.wait_for_output("failed in")
        status, _, body = served.request("/score", b"{}")
        answer = json.loads(body)
        assert status == 503 and answer["code"] == "not_ready"
        assert answer["details"]["line"] == 5 and answer["details"]["where"] == "init"
        # ... until the next save fixes it.
        (tmp_path / "code" / "score.py").write_text(script)
        served.wait_for_output("reloaded in", times=2)
        assert served.score({}) == (200, "hello x")


def test_init_failure_without_reload_ends_the_command_with_the_line(tmp_path: Path) -> None:
    deployment = _write(tmp_path, FAILING_RUN.replace("GREETING", "NOT_SET"))
    result = _run(clean_env(tmp_path / "ws"), "online-deployment", "serve", "-f", str(deployment),
                  "--port", "0", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "init() failed: KeyError: 'NOT_SET'" in result.stderr
    assert 'at score.py:5 in init(): greeting = os.environ["NOT_SET"]' in result.stderr


def test_secrets_arguments_and_shims_reach_the_script(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """\
        import os
        from azureml.core import Run

        def init():
            global key
            key = Run.get_context().experiment.workspace.get_default_keyvault().get_secret("k1")

        def run(raw_data):
            env = os.environ
            return {"key": key, "token": env["TOKEN"], "model": env["AZUREML_MODEL_DIR"]}
        """
    )
    (tmp_path / "model").mkdir()
    extra = "  TOKEN: ${{secrets.t1}}\nproperties:\n  ferry_secrets: [k1]\nmodel:\n  path: model\n"
    deployment = _write(tmp_path, script, extra)
    args = ("-f", deployment, "--is-local-deployment", "--secret", "k1=one", "--secret", "t1=two")
    with serve(clean_env(tmp_path / "ws"), *args, cwd=tmp_path) as served:
        assert served.score({}) == (200, {"key": "one", "token": "two", "model": str(tmp_path)})


def test_runs_under_another_interpreter_with_the_stdlib_runtime(tmp_path: Path) -> None:
    python = shutil.which("python3", path="/usr/bin")
    assert python, "no /usr/bin/python3: this test needs the system's own interpreter"
    deployment = _write(tmp_path, FAILING_RUN.replace('data["missing"]', "sys.version"))
    (tmp_path / "code" / "score.py").write_text(
        "import sys\n" + (tmp_path / "code" / "score.py").read_text()
    )
    with serve(clean_env(tmp_path / "ws"), "-f", deployment, "--python", python,
               cwd=tmp_path) as served:  # fmt: skip
        status, answer = served.score({})
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
    assert (status, answer) == (200, f"hello {version}")


@pytest.mark.parametrize(
    ("args", "script", "expected"),
    [
        (["-f", "nope.yml"], None, "spec file 'nope.yml' does not exist; check the path passed to"),
        ([], "def init():\n    pass\n", "defines no run() function; a scoring script must define"),
        ([], "def run(data):\n    return data\n", "defines no init() function"),
        (
            ["--set", "model=azureml:model-1@latest"],
            FAILING_RUN,
            "`ferry server start`), or give a local path (--set model.path=./model)",
        ),
        (["--set", "code_configuration.code=elsewhere"], FAILING_RUN, "is not a folder; fix it"),
        (["--set", "properties.ferry_secrets=k"], FAILING_RUN, "pass --secret k=VALUE"),
        (["--python", "/nonexistent/python"], FAILING_RUN, "is not an executable interpreter"),
    ],
)
def test_errors_name_the_fix(
    tmp_path: Path, args: list[str], script: str | None, expected: str
) -> None:
    deployment = _write(tmp_path, script or FAILING_RUN)
    if "-f" not in args:
        args = ["-f", str(deployment), *args]
    result = _run(clean_env(tmp_path / "ws"), "online-deployment", "serve", "--port", "0", *args,
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_environment_build_runs_in_the_deployments_own_interpreter(tmp_path: Path) -> None:
    # An environment with no packages builds in a moment, and its Python differs from ours.
    script = "import sys\n\ndef init():\n    pass\n\ndef run(data):\n    return sys.executable\n"
    (tmp_path / "conda.yaml").write_text("name: local\ndependencies:\n  - pip\n")
    deployment = _write(tmp_path, script, "environment:\n  conda_file: conda.yaml\n")
    args = ("-f", deployment, "--environment", "build")
    with serve(clean_env(tmp_path / "ws"), *args, cwd=tmp_path) as served:
        status, answer = served.score({})
    assert status == 200
    assert answer != sys.executable
    assert Path(answer).is_relative_to(tmp_path / "ws" / "envs")


def test_a_registered_model_is_downloaded_from_the_running_server(tmp_path: Path) -> None:
    # examples/online-sklearn/blue-deployment.yml names azureml:model-1@latest, as Azure's
    # blue-deployment-with-registered-assets.yml does; its code folder is local.
    from tests.cli.conftest import make_ferry

    workspace = tmp_path / "ws"
    ferry = make_ferry(workspace)
    ferry("model", "create", "--name", "model-1", "--path", MODEL_1 / "model", "-o", "none")
    try:
        example = REPO / "examples" / "online-sklearn" / "blue-deployment.yml"
        request = json.loads((MODEL_1 / "sample-request.json").read_text())
        with serve(clean_env(workspace), "-f", example, cwd=tmp_path) as served:
            status, answer = served.score(request)
        assert status == 200 and len(answer) == 2, answer
        assert "downloading model model-1:1 into" in "".join(served.stderr)
        assert (workspace / "local-assets" / "model" / "model-1" / "1" / "model-1").is_dir()
    finally:
        ferry("server", "stop", "-o", "none")


def test_a_pdb_breakpoint_in_run_is_hit_during_a_request(tmp_path: Path) -> None:
    # Requests run on the main thread, the one `python -m pdb` traces.
    script = FAILING_RUN.replace('data["missing"]', "raw_data")
    deployment = _write(tmp_path, script)
    score = tmp_path / "code" / "score.py"
    line = script.splitlines().index('    data = {"name": "x"}') + 1
    with serve(clean_env(tmp_path / "ws"), "-f", deployment, cwd=tmp_path,
               debugger=f"break {score}:{line}\ncontinue\n") as served:  # fmt: skip
        answers: list[tuple[int, Any]] = []
        request = threading.Thread(target=lambda: answers.append(served.score({"q": 1})))
        request.start()
        served.wait_for_output(f"> {score}({line})run()")
        assert served.proc.stdin is not None
        served.proc.stdin.write("p raw_data\ncontinue\n")
        served.proc.stdin.flush()
        request.join(timeout=60)
        assert answers == [(200, 'hello {"q": 1}')]
        served.wait_for_output("""'{"q": 1}'""")  # pdb printed run()'s argument


def test_a_swagger_file_in_the_code_folder_is_served(tmp_path: Path) -> None:
    deployment = _write(tmp_path, FAILING_RUN)
    document = {"swagger": "2.0", "info": {"title": "mine", "version": "1"}, "paths": {}}
    (tmp_path / "code" / "swagger.json").write_text(json.dumps(document))
    (tmp_path / "code" / "swagger3.json").write_text(json.dumps({"openapi": "3.0.1"}))
    with serve(clean_env(tmp_path / "ws"), "-f", deployment, cwd=tmp_path) as served:
        status, _, body = served.request("/swagger.json")
        assert (status, json.loads(body)) == (200, document)
        status, _, body = served.request("/swagger.json?version=3")
        assert (status, json.loads(body)) == (200, {"openapi": "3.0.1"})
        status, _, body = served.request("/swagger.json?version=4")
        assert status == 404 and b"use ?version=2, 3 or 3.1" in body
