"""Long-option prefixes as argparse (``az``) resolves them, checked on the real command tree."""

from __future__ import annotations

import click
import pytest

from ferry.cli.main import cli
from ferry.cli.prefixes import expand_command_args, expand_group_options


def _expand(*args: str) -> list[str]:
    with click.Context(cli, info_name="ferry") as ctx:
        return expand_command_args(ctx, cli, list(args))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            ["batch-deployment", "show", "--name", "d", "--endpoint", "e"],
            ["batch-deployment", "show", "--name", "d", "--endpoint-name", "e"],
        ),
        (
            ["online-deployment", "get-logs", "--endpoint=e", "--name", "blue"],
            ["online-deployment", "get-logs", "--endpoint-name=e", "--name", "blue"],
        ),
        (
            ["batch-endpoint", "invoke", "--name", "e", "--deployment", "d", "--input", "x"],
            ["batch-endpoint", "invoke", "--name", "e", "--deployment-name", "d", "--input", "x"],
        ),
        # An exact name wins over longer ones (--output, not --output-path).
        (["batch-endpoint", "invoke", "--output", "json"], None),
        # A value is never rewritten, even when it looks like an option prefix.
        (["batch-endpoint", "update", "--name", "x", "--set", "--desc"], None),
        (["job", "list", "--parent", "j", "--max", "3"], None),
    ],
)
def test_unambiguous_prefixes_expand(given: list[str], expected: list[str] | None) -> None:
    got = _expand(*given)
    if expected is None:
        assert got[:2] == given[:2] and len(got) == len(given)
    else:
        assert got == expected


def test_job_list_prefixes() -> None:
    assert _expand("job", "list", "--parent", "j", "--max", "3") == [
        "job",
        "list",
        "--parent-job-name",
        "j",
        "--max-results",
        "3",
    ]


def test_ambiguous_prefix_is_a_usage_error() -> None:
    with pytest.raises(click.UsageError) as info:
        _expand("batch-endpoint", "invoke", "--input-", "x")
    assert str(info.value.message).startswith(
        "ambiguous option --input-: could be --input-in-place, --input-type"
    )


def test_root_options_before_the_group() -> None:
    with click.Context(cli, info_name="ferry") as ctx:
        got = expand_group_options(
            ctx, cli, ["--work", "ws", "--deb", "-o", "--work", "batch-endpoint", "--out", "x"]
        )
    # -o's value is a value even though it looks like an option; the group's words are kept.
    assert got == ["--workspace", "ws", "--debug", "-o", "--work", "batch-endpoint", "--out", "x"]


@pytest.mark.parametrize(
    ("scope", "dropped"),
    [
        (
            ["--resource-group", "rg", "--workspace-name", "ws"],
            ["--resource-group rg", "--workspace-name ws"],
        ),
        (["-g", "rg", "-w", "ws", "--subscription", "0"], ["-g rg", "-w ws", "--subscription 0"]),
        (
            ["--resource-group=rg", "--workspace-name=ws"],
            ["--resource-group rg", "--workspace-name ws"],
        ),
    ],
)
def test_azure_workspace_scope_is_dropped_with_a_note(
    scope: list[str], dropped: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    got = _expand("batch-endpoint", "show", "--name", "e", *scope)

    assert got == ["batch-endpoint", "show", "--name", "e"]
    assert capsys.readouterr().err.splitlines() == [
        f"ferry: ignoring {word}: that is Azure's workspace scope; Ferry acts on the workspace "
        "given by --workspace, FERRY_WORKSPACE or FERRY_SERVER_URL."
        for word in dropped
    ]
