"""Output formats: az's shapes, through the real command and through ``render`` directly."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from ferry.cli.output import render
from ferry.cli.params import expand_multi_value
from tests.cli.conftest import Ferry


@pytest.fixture(scope="module")
def two_models(ferry: Ferry, examples: Path) -> Ferry:
    folder = examples / "online" / "model-1" / "model"
    for name in ("alpha", "beta"):
        ferry("model", "create", "--name", name, "--path", folder, "-o", "none")
    return ferry


def test_tsv_of_objects_is_one_line_each_values_in_key_order(two_models: Ferry) -> None:
    items = two_models.json("model", "list")
    lines = two_models("model", "list", "-o", "tsv").stdout.splitlines()
    assert len(lines) == len(items) == 2
    for line, item in zip(lines, items, strict=True):
        cells = line.split("\t")
        assert len(cells) == len(item)
        assert cells[sorted(item).index("name")] == item["name"]
        assert cells[sorted(item).index("version")] == "1"


def test_tsv_of_scalars_and_projections(two_models: Ferry) -> None:
    names = two_models("model", "list", "--query", "[].name", "-o", "tsv").stdout
    assert names.splitlines() == ["alpha", "beta"]
    # A {..} projection keeps the query's order, as az does.
    pairs = two_models("model", "list", "--query", "[].{v: version, n: name}", "-o", "tsv")
    assert pairs.stdout == "1\talpha\n1\tbeta\n"


def test_table_yaml_none_and_jsonc(two_models: Ferry) -> None:
    table = two_models("model", "list", "-o", "table").stdout.splitlines()
    assert table[0].split()[:1] == ["Archived"] and "Name" in table[0].split()
    assert set(table[1].replace(" ", "")) == {"-"}
    assert [line.split()[table[0].split().index("Name")] for line in table[2:]] == [
        "alpha",
        "beta",
    ]
    as_json = two_models.json("model", "show", "-n", "alpha")
    as_yaml = yaml.safe_load(two_models("model", "show", "-n", "alpha", "-o", "yaml").stdout)
    assert as_yaml == as_json
    assert two_models("model", "show", "-n", "alpha", "-o", "none").stdout == ""
    plain = two_models("model", "show", "-n", "alpha", "-o", "json").stdout
    # stdout is a pipe here, so jsonc is plain json (az drops colour when not a terminal).
    assert two_models("model", "show", "-n", "alpha", "-o", "jsonc").stdout == plain


def test_global_options_work_before_the_group(two_models: Ferry) -> None:
    result = two_models("-o", "tsv", "--query", "version", "model", "show", "-n", "beta")
    assert result.stdout == "1\n"
    # The command's own value wins over the one before the group.
    again = two_models("-o", "json", "model", "show", "-n", "beta", "-o", "tsv", "--query", "name")
    assert again.stdout == "beta\n"


def test_render_follows_az() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    item = {"b": [1, 2], "a": True, "c": {"x": 1}, "d": None, "when": when}
    assert render(item, "tsv", None) == "True\t2\t\tNone\t2024-05-01T12:00:00Z\n"
    assert render(True, "tsv", None) == "true\n"
    assert render("1", "tsv", None) == "1\n"
    assert render(["x", "y"], "tsv", None) == "x\ny\n"
    assert render(None, "json", None) == ""
    assert render([], "json", None) == "[]\n"
    assert json.loads(render(item, "json", None))["when"] == "2024-05-01T12:00:00Z"
    assert render({"z": 1, "a": 2}, "json", None) == '{\n  "a": 2,\n  "z": 1\n}\n'
    assert render(item, "tsv", "{w: when, a: a}") == "2024-05-01T12:00:00Z\tTrue\n"
    assert "\x1b[" in render(item, "jsonc", None, color=True)
    table = render([{"name": "m", "id": "x", "version": "1", "tags": {}}], "table", None)
    assert table.splitlines() == ["Name  Version", "----  -------", "m     1"]
    assert render("v", "table", None).splitlines() == ["Result", "------", "v"]


def test_multi_value_flags_expand_like_az() -> None:
    args = ["model", "create", "--tags", "a=1", "b=2", "--name", "m", "--set", "x=1", "y.z=2"]
    assert expand_multi_value(args) == [
        "model",
        "create",
        "--tags",
        "a=1",
        "--tags",
        "b=2",
        "--name",
        "m",
        "--set",
        "x=1",
        "--set",
        "y.z=2",
    ]
    # The first word is always the option's value; later words only when they are key=value.
    assert expand_multi_value(["--tags", "solo", "NAME"]) == ["--tags", "solo", "NAME"]
    assert expand_multi_value(["--", "--tags", "a=1", "b=2"]) == ["--", "--tags", "a=1", "b=2"]
