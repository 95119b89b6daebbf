from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ferry.runtime.frames import send_frame
from ferry.runtime.launch import package_root, worker_command, worker_env

SLEEPY = """
import time
def init():
    print("init printed without flush")
def run(data):
    time.sleep(float(data))
    return "slept"
def shutdown():
    print("shutdown ran")
"""


def _wait_for(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_print_is_line_buffered_and_logging_goes_to_stderr(workers: Any) -> None:
    script = workers.script(
        SLEEPY + "\nimport logging\nlogging.getLogger('user').debug('dbg line')\n"
    )
    w = workers.start(script)
    assert w.first["kind"] == "ready"
    # The worker is alive and idle: a block-buffered stdout would still hold the text.
    assert _wait_for(lambda: "init printed without flush" in w.logs())
    assert "DEBUG user: dbg line" in w.logs()


LOG_LINE = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "  # logging's asctime, then the level

LAZY_LOGGING = """
import sys
def run(mini_batch):
    if mini_batch:  # a script that imports logging late, after the worker logged on its own
        import logging
        logging.getLogger("user").info("info from run")
        logging.getLogger("user").warning("warning from run")
    return ["logging" in sys.modules]
"""


def test_logging_is_set_up_when_the_script_first_imports_it(workers: Any) -> None:
    w = workers.start(workers.script(LAZY_LOGGING, name="driver.py"), mode="batch")
    assert w.first["kind"] == "ready"
    _reply, body = w.request({"kind": "run_batch", "items": []})
    assert body == b"False\n"  # the worker itself never imported logging
    _reply, body = w.request({"kind": "run_batch", "items": ["/x"]})
    assert body == b"True\n"
    assert w.shutdown() == 0
    logs = w.logs()
    # The worker's own lines, before and after logging was imported, and the script's records
    # at the job's level, all in one format.
    assert re.search(LOG_LINE + r"INFO ferry\.runtime: worker worker-\d+ ready \(batch", logs, re.M)
    assert re.search(
        LOG_LINE + r"INFO ferry\.runtime: mini-batch 1: 0 files -> 1 items", logs, re.M
    )
    assert re.search(LOG_LINE + r"INFO user: info from run$", logs, re.M), logs
    assert re.search(
        LOG_LINE + r"INFO ferry\.runtime: mini-batch 2: 1 files -> 1 items", logs, re.M
    )


def test_the_logging_level_filters_the_worker_and_the_script_alike(workers: Any) -> None:
    w = workers.start(
        workers.script(LAZY_LOGGING, name="driver.py"), mode="batch", logging_level="warning"
    )
    w.request({"kind": "run_batch", "items": []})
    w.request({"kind": "run_batch", "items": ["/x"]})
    assert w.shutdown() == 0
    logs = w.logs()
    assert re.search(LOG_LINE + r"WARNING user: warning from run$", logs, re.M), logs
    assert "info from run" not in logs
    assert "ferry.runtime: mini-batch" not in logs
    assert "ready (batch" not in logs


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mode", "sideways"], "--mode must be batch or online, not 'sideways'"),
        (
            ["--mode", "batch", "--logging-level", "LOUD"],
            "unknown logging level 'LOUD'; use one of",
        ),
        (["--mode", "batch", "--colour", "red"], "unknown argument '--colour'"),
        (["--mode", "batch", "--mode", "online"], "--mode is given twice"),
        (["--mode"], "--mode needs a value"),
        ([], "missing required option(s): --mode"),
    ],
)
def test_a_bad_command_line_exits_2_naming_the_problem(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    script = tmp_path / "driver.py"
    script.write_text(LAZY_LOGGING)
    command = [sys.executable, "-m", "ferry.runtime.worker", "--connect", str(tmp_path / "s")]
    command += ["--entry-script", str(script), *argv]
    proc = subprocess.run(command, env=worker_env(os.environ), capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("usage: python -m ferry.runtime.worker --connect")
    assert f"ferry worker: error: {message}" in proc.stderr.decode()


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_sigusr1_dumps_the_stuck_stack_and_sigterm_stops_cleanly(workers: Any) -> None:
    w = workers.start(workers.script(SLEEPY))
    send_frame(w.conn, {"kind": "score", "id": 1, "method": "POST"}, b"30")
    time.sleep(0.5)
    w.proc.send_signal(signal.SIGUSR1)
    # faulthandler prints each frame as: File "/.../score.py", line 6 in run
    assert _wait_for(lambda: 'score.py", line 6 in run' in w.logs()), w.logs()
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(timeout=20) == 0
    assert "shutdown ran" in w.logs()


def test_malformed_requests_get_error_replies_and_the_worker_lives_on(workers: Any) -> None:
    w = workers.start(workers.script(SLEEPY))
    reply, _ = w.request({"kind": "run_batch", "items": ["/a"]})
    assert reply["error"]["message"] == "an online worker does not serve 'run_batch' messages"
    assert reply["error"]["where"] == "protocol"
    reply, _ = w.request({"kind": "score_batch", "requests": [{"body_len": 5}]}, b"abc")
    assert "add up to 5 bytes but the frame body has 3" in reply["error"]["message"]
    reply, _ = w.request({"kind": "no-such-kind"})
    assert reply["kind"] == "error"
    reply, body = w.request({"kind": "score", "method": "POST"}, b"0")
    assert (reply["status"], body) == (200, b'"slept"')


def test_a_corrupt_stream_ends_the_worker_with_exit_code_4(workers: Any) -> None:
    w = workers.start(workers.script(SLEEPY))
    w.conn.sendall(b"\xff\xff\xff\xff" + b"\x00" * 4)  # a 4 GiB header: not a Ferry peer
    assert w.proc.wait(timeout=20) == 4
    assert "broken frame stream" in w.logs()


def test_unreachable_server_exits_2(tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text(SLEEPY)
    argv = worker_command(
        sys.executable,
        connect=str(tmp_path / "nobody.sock"),
        mode="online",
        entry_script=str(script),
    )
    proc = subprocess.run(argv, env=worker_env(os.environ), capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"cannot connect to" in proc.stderr


def test_launch_helpers() -> None:
    assert (Path(package_root()) / "ferry" / "runtime" / "worker.py").is_file()
    argv = worker_command(
        "/env/bin/python",
        connect="127.0.0.1:9",
        mode="batch",
        entry_script="/c/d.py",
        code_dir="/c",
        worker_id="w1",
        logging_level="INFO",
        user_args=["--x", "1"],
    )
    assert argv == [
        "/env/bin/python", "-m", "ferry.runtime.worker", "--connect", "127.0.0.1:9",
        "--mode", "batch", "--entry-script", "/c/d.py", "--code-dir", "/c",
        "--worker-id", "w1", "--logging-level", "INFO", "--", "--x", "1",
    ]  # fmt: skip
    env = worker_env({"PYTHONPATH": "/user/lib"}, {"AZUREML_MODEL_DIR": "/m"})
    assert env["PYTHONPATH"].split(os.pathsep) == [package_root(), "/user/lib"]
    assert env["AZUREML_MODEL_DIR"] == "/m"


def test_an_installed_package_wins_over_the_shim(workers: Any, tmp_path: Path) -> None:
    real = tmp_path / "code" / "azureml_user"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("")
    (real / "parallel_run.py").write_text("class EntryScript:\n    agent_name = 'real-one'\n")
    script = workers.script(
        """
        from azureml_user.parallel_run import EntryScript
        from azureml.contrib.services.aml_response import AMLResponse
        def run(mini_batch):
            return [EntryScript.agent_name, AMLResponse.__module__]
        """,
        name="driver.py",
    )
    w = workers.start(script, mode="batch")
    _reply, body = w.request({"kind": "run_batch", "items": []})
    assert body == b"real-one\nferry.runtime.azureml_shims\n"
