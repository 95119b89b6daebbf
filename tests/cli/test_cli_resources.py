"""``ferry secret|compute|datastore`` against a real server."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Ferry

VALUE = "s3cr3t-Value-that-must-never-print"


def test_secret_values_never_appear(ferry: Ferry, tmp_path: Path) -> None:
    outputs = [ferry("secret", "set", "api-key", "--value", VALUE)]
    outputs.append(ferry("secret", "set", "from-stdin", "--value", "-", input=VALUE + "\n"))
    file = tmp_path / "secret.txt"
    file.write_text(VALUE, encoding="utf-8")
    outputs.append(ferry("secret", "set", "from-file", "--from-file", file, "-o", "yaml"))
    for fmt in ("json", "tsv", "table", "yaml"):
        outputs.append(ferry("secret", "list", "-o", fmt))
    outputs.append(ferry("secret", "set", "x", "--value", VALUE, "--debug", "--query", "value"))
    for result in outputs:
        assert VALUE not in result.stdout + result.stderr
    names = ferry.json("secret", "list", "--query", "[].name")
    assert {"api-key", "from-stdin", "from-file"} <= set(names)
    assert all(
        set(item) <= {"name", "created_at", "updated_at"} for item in ferry.json("secret", "list")
    )

    ferry("secret", "delete", "api-key")
    assert "api-key" not in ferry.json("secret", "list", "--query", "[].name")
    line = ferry("secret", "set", "y", "--from-file", tmp_path / "missing", expect=1).stderr
    assert line.startswith("ERROR: ") and "missing" in line


def test_compute_lifecycle(ferry: Ferry) -> None:
    made = ferry.json(
        "compute",
        "create",
        "--name",
        "cpu-pool",
        "--type",
        "local",
        "--max-instances",
        "4",
        "--tags",
        "tier=cpu",
    )
    assert (made["name"], made["max_instances"], made["tags"]) == ("cpu-pool", 4, {"tier": "cpu"})
    assert ferry.json("compute", "show", "--name", "cpu-pool", "--query", "type") == "local"
    assert "cpu-pool" in ferry.json("compute", "list", "--query", "[].name")
    ferry("compute", "delete", "--name", "cpu-pool", "--yes")
    assert "cpu-pool" not in ferry.json("compute", "list", "--query", "[].name")
    line = ferry("compute", "create", "--name", "c1", "--address", "ray://h:1", expect=1).stderr
    assert "address" in line


def test_datastore_from_yaml_with_relative_root(ferry: Ferry, tmp_path: Path) -> None:
    (tmp_path / "bytes").mkdir()
    spec = tmp_path / "store.yml"
    spec.write_text("name: disk_store\ntype: local\nroot: bytes\n", encoding="utf-8")
    made = ferry.json("datastore", "create", "-f", spec, "--description", "local disk")
    assert made["root"] == str((tmp_path / "bytes").resolve())
    assert made["description"] == "local disk"
    assert ferry.json("datastore", "show", "--name", "disk_store", "--query", "type") == "local"
    ferry("datastore", "delete", "--name", "disk_store", expect=1, input="n\n")  # declined
    ferry("datastore", "delete", "--name", "disk_store", "--yes")
    ferry("datastore", "show", "--name", "disk_store", expect=1)


def test_datastore_list_includes_the_default(ferry: Ferry) -> None:
    assert "workspaceblobstore" in ferry.json("datastore", "list", "--query", "[].name")
