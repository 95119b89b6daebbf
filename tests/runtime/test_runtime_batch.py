from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ferry.runtime.batch import BatchOutputError, format_rows


def _inputs(tmp_path: Path, n: int) -> list[str]:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"f{i}.txt"
        path.write_text(f"value {i}")
        paths.append(str(path))
    return paths


def _lines(body: bytes) -> list[str]:
    """The rows of a result body: newline-terminated lines, UTF-8 with surrogateescape."""
    assert body == b"" or body.endswith(b"\n")
    return body.decode("utf-8", "surrogateescape").split("\n")[:-1]


def test_list_result_lines_and_count(workers: Any, tmp_path: Path) -> None:
    script = workers.script(
        """
        import os
        def run(mini_batch):
            return [f"{os.path.basename(p)},{len(open(p).read())}" for p in mini_batch]
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch")
    assert w.first["kind"] == "ready"
    assert w.first["mode"] == "batch"
    assert w.first["worker_id"] == "worker-1"
    reply, body = w.request({"kind": "run_batch", "items": _inputs(tmp_path, 3)})
    assert reply["kind"] == "result"
    assert (reply["n_items"], reply["n_lines"]) == (3, 3)
    assert _lines(body) == ["f0.txt,7", "f1.txt,7", "f2.txt,7"]
    assert w.shutdown() == 0


def test_dataframe_rows_read_back_with_azure_documented_read_csv(
    workers: Any, tmp_path: Path, need_in_user_env: Any
) -> None:
    need_in_user_env("pandas")
    script = workers.script(
        """
        import os
        import pandas as pd
        def run(mini_batch):
            names = [os.path.basename(p) for p in mini_batch]
            rows = [(name, i, 0.5 + i, "two words") for i, name in enumerate(names)]
            return pd.DataFrame(rows, columns=["file", "class", "probability", "note"])
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch")
    reply, body = w.request({"kind": "run_batch", "items": _inputs(tmp_path, 4)})
    assert reply["n_items"] == 4
    lines = _lines(body)
    assert lines[0] == 'f0.txt 0 0.5 "two words"'
    out = tmp_path / "predictions.csv"
    out.write_text("".join(line + "\n" for line in lines))
    df = pd.read_csv(out, header=None, names=["file", "class", "probability", "note"], sep=" ")
    assert df["file"].tolist() == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]
    assert df["probability"].tolist() == [0.5, 1.5, 2.5, 3.5]
    assert df["note"].tolist() == ["two words"] * 4
    w.shutdown()


def test_user_arguments_and_logging_level_reach_parse_known_args(
    workers: Any, tmp_path: Path
) -> None:
    script = workers.script(
        """
        import argparse, sys
        from azureml_user.parallel_run import EntryScript

        def init():
            global args, argv
            parser = argparse.ArgumentParser()
            parser.add_argument("--model_name")
            parser.add_argument("--logging_level")
            args, _unknown = parser.parse_known_args()
            argv = list(sys.argv)
            EntryScript().logger.info("init parsed %s", args)

        def run(mini_batch):
            es = EntryScript()
            return [args.model_name, args.logging_level, es.agent_name, es.output_dir, argv[0]]

        def shutdown():
            open(EntryScript().output_dir + "/shutdown.txt", "w").write("bye")
        """,
        name="driver.py",
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    w = workers.start(
        script,
        mode="batch",
        user_args=("--model_name", "mosaic", "--label_dir", "x"),
        env={"AZUREML_BI_OUTPUT_PATH": str(out_dir)},
    )
    assert w.first["kind"] == "ready", w.logs()
    _reply, body = w.request({"kind": "run_batch", "items": []})
    assert _lines(body) == ["mosaic", "DEBUG", "worker-1", str(out_dir), str(script)]
    assert w.shutdown() == 0
    assert (out_dir / "shutdown.txt").read_text() == "bye"
    assert "init parsed Namespace(model_name='mosaic'" in w.logs()


def test_script_without_run_fails_init_with_a_clear_message(workers: Any) -> None:
    script = workers.script("def init():\n    pass\n", name="batch_driver.py")
    w = workers.start(script, mode="batch")
    assert w.first["kind"] == "init_failed"
    error = w.first["error"]
    assert error["where"] == "load"
    assert error["message"] == (
        "batch_driver.py defines no run() function; a batch scoring script must define "
        "run(mini_batch); init() and shutdown() are optional"
    )
    assert w.wait() == 3


def test_init_raising_sends_traceback_and_exits_3(workers: Any, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "sub" / "weights.bin").write_bytes(b"0")
    script = workers.script(
        """
        import os

        def load_model():
            raise FileNotFoundError("no model.pkl in " + os.environ["AZUREML_MODEL_DIR"])

        def init():
            load_model()

        def run(mini_batch):
            return []

        def shutdown():
            raise AssertionError("shutdown() must not run after a failed init()")
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch", env={"AZUREML_MODEL_DIR": str(model_dir)})
    assert w.first["kind"] == "init_failed"
    error = w.first["error"]
    assert error["where"] == "init"
    assert error["type"] == "FileNotFoundError"
    assert error["message"] == f"no model.pkl in {model_dir}"
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert "in init" in error["traceback"]
    assert "in load_model" in error["traceback"]
    assert "ferry/runtime" not in error["traceback"]  # the user sees their own frames
    assert w.wait() == 3
    logs = w.logs()
    assert "FileNotFoundError" in logs
    assert "sub/weights.bin" in logs  # the model folder is listed to help find path mistakes


def test_run_failure_is_an_error_reply_and_the_worker_goes_on(workers: Any, tmp_path: Path) -> None:
    script = workers.script(
        """
        import sys
        calls = 0
        def run(mini_batch):
            global calls
            calls += 1
            if calls == 1:
                raise ValueError("bad file " + mini_batch[0])
            if calls == 2:
                return None
            if calls == 3:
                sys.exit(2)
            if calls == 4:
                return ["\\ud800"]  # a lone surrogate no file name gives: cannot be written
            return [calls]
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch")
    items = _inputs(tmp_path, 1)
    reply, _ = w.request({"kind": "run_batch", "items": items})
    assert reply["kind"] == "error"
    assert reply["error"]["type"] == "ValueError"
    assert reply["error"]["message"] == f"bad file {items[0]}"
    reply, _ = w.request({"kind": "run_batch", "items": items})
    assert reply["error"]["where"] == "output"
    assert (
        "returned NoneType; a batch scoring script must return a list" in reply["error"]["message"]
    )
    reply, _ = w.request({"kind": "run_batch", "items": items})
    assert reply["error"]["type"] == "SystemExit"
    reply, _ = w.request({"kind": "run_batch", "items": items})
    assert (reply["error"]["where"], reply["error"]["type"]) == ("output", "UnicodeEncodeError")
    reply, body = w.request({"kind": "run_batch", "items": items})
    assert _lines(body) == ["5"]
    reply, _ = w.request({"kind": "score", "method": "POST"})
    assert reply["kind"] == "error"
    assert reply["error"]["message"] == "a batch worker does not serve 'score' messages"
    reply, _ = w.request({"kind": "ping"})
    assert reply["kind"] == "pong"
    assert w.shutdown() == 0


def test_file_names_that_are_not_utf8_come_back_intact(workers: Any, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    (folder / name).write_bytes(b"x")
    script = workers.script(
        """
        def run(mini_batch):
            open(mini_batch[0], "rb").read()
            return mini_batch
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch")
    path = str(folder / name)
    reply, body = w.request({"kind": "run_batch", "items": [path]})
    assert reply["kind"] == "result", reply
    assert _lines(body) == [path]
    assert _lines(body)[0].encode("utf-8", "surrogateescape").endswith(b"/caf\xe9.txt")


def test_tabular_mini_batch_gets_one_dataframe(
    workers: Any, tmp_path: Path, need_in_user_env: Any
) -> None:
    need_in_user_env("pandas")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n3,4\n")
    b.write_text("x,y\n5,6\n")
    script = workers.script(
        """
        def run(mini_batch):
            mini_batch["total"] = mini_batch["x"] + mini_batch["y"]
            return mini_batch
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch")
    reply, body = w.request({"kind": "run_batch", "items": [str(a), str(b)], "tabular": True})
    assert reply["n_items"] == 3
    assert _lines(body) == ["1 2 3", "3 4 7", "5 6 11"]
    w.shutdown()


def test_worker_closes_cleanly_when_the_server_goes_away(workers: Any) -> None:
    script = workers.script(
        """
        def run(mini_batch):
            return []
        def shutdown():
            print("shutdown called", flush=True)
        """,
        name="batch_driver.py",
    )
    w = workers.start(script, mode="batch", tcp=True)
    assert w.first["kind"] == "ready"
    w.conn.close()
    assert w.proc.wait(timeout=30) == 0
    assert "shutdown called" in w.logs()


def test_format_rows_rules() -> None:
    assert format_rows(["a", 1, [2, 3]]) == (["a", "1", "[2, 3]"], 3)
    assert format_rows(("x",)) == (["x"], 1)
    assert format_rows([]) == ([], 0)
    df = pd.DataFrame({"a": [1, 2], "b": ["p q", "r"]})
    assert format_rows(df) == (['1 "p q"', "2 r"], 2)
    assert format_rows(pd.DataFrame()) == ([], 0)
    assert format_rows(pd.Series([1.5, 2.5])) == (["1.5", "2.5"], 2)
    for bad in (None, "text", {"a": 1}, 3):
        with pytest.raises(BatchOutputError, match="must return a list"):
            format_rows(bad, "driver.py")
