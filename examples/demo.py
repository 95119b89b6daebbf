"""``make demo``: the registry end to end against a fresh, auto-started local workspace.

Each step runs the real ``ferry`` CLI, prints the command and what it printed, and fails loudly.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".ferry-demo" / "registry"
WORKSPACE = WORK / "workspace"


def ferry(*args: str) -> str:
    cmd = [sys.executable, "-m", "ferry.cli.main", "--workspace", str(WORKSPACE), *args]
    print(f"$ ferry {shlex.join(args)}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.stdout.strip():
        print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(proc.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(f"demo step failed with exit code {proc.returncode}")
    return proc.stdout.strip()


def make_inputs() -> tuple[Path, Path]:
    """A small multi-file model folder and a folder of request files, made on the spot."""
    model = WORK / "inputs" / "toy-model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"kind": "linear", "coef": [0.5, -1.25]}))
    (model / "weights" / "layer0.bin").write_bytes(bytes(range(256)) * 64)
    data = WORK / "inputs" / "requests"
    data.mkdir(parents=True)
    for i in range(5):
        (data / f"req-{i}.json").write_text(json.dumps({"x": [i, i + 1]}))
    return model, data


def main() -> None:
    if WORK.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ferry.cli.main",
                "--workspace",
                str(WORKSPACE),
                "server",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(WORK)
    model, data = make_inputs()
    try:
        v1 = ferry(
            "model",
            "create",
            "--name",
            "toy",
            "--path",
            str(model),
            "--type",
            "custom_model",
            "--query",
            "version",
            "-o",
            "tsv",
        )
        v2 = ferry(
            "model",
            "create",
            "--name",
            "toy",
            "--path",
            str(model),
            "--query",
            "version",
            "-o",
            "tsv",
        )
        assert (v1, v2) == ("1", "2"), (v1, v2)
        ferry("model", "show", "--name", "toy", "--version", "2", "-o", "json")
        ferry(
            "model",
            "download",
            "--name",
            "toy",
            "--version",
            "1",
            "--download-path",
            str(WORK / "out"),
        )
        assert (WORK / "out" / "toy" / "toy-model" / "weights" / "layer0.bin").is_file()
        ferry(
            "data",
            "create",
            "--name",
            "requests",
            "--path",
            str(data),
            "--type",
            "uri_folder",
            "--query",
            "{name: name, version: version, path: path}",
            "-o",
            "json",
        )
        ferry("secret", "set", "DEMO_API_KEY", "--value", "not-shown-anywhere")
        listing = ferry("secret", "list", "-o", "table")
        assert "not-shown-anywhere" not in listing
        ferry("model", "list", "-o", "table")
        ferry("server", "status")
        print(f"\nDemo finished. Workspace: {WORKSPACE}")
    finally:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ferry.cli.main",
                "--workspace",
                str(WORKSPACE),
                "server",
                "stop",
            ],
            capture_output=True,
            check=False,
        )


if __name__ == "__main__":
    main()
