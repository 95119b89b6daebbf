"""Long options by unambiguous prefix, as ``az`` (argparse) accepts them.

Azure's scripts write ``--endpoint`` for ``--endpoint-name`` and ``--deployment`` for
``--deployment-name``; argparse resolves any unambiguous prefix of a long option, click does not.
:func:`expand_command_args` rewrites a command's words before click parses them: an exact name is
kept, a prefix of exactly one long option becomes that option, a prefix of several is a usage
error that lists them (argparse's ``ambiguous option: --x could match --xa, --xb``).

Azure's scripts also name the workspace's Azure scope on every line (``--resource-group``,
``--workspace-name``, ``--subscription``). A Ferry command acts on one workspace already
(``--workspace``, ``FERRY_WORKSPACE`` or ``FERRY_SERVER_URL``), so those words are taken out with
a note on stderr instead of failing the script on its first line.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

__all__ = [
    "AZURE_SCOPE_OPTIONS",
    "expand_command_args",
    "expand_group_options",
    "expand_long_prefixes",
]

AZURE_SCOPE_OPTIONS = frozenset(
    {"-g", "--resource-group", "-w", "--workspace-name", "--subscription"}
)


def expand_command_args(
    ctx: click.Context, command: click.Command, args: Sequence[str]
) -> list[str]:
    """``args`` of ``command`` with long-option prefixes expanded, following subgroups.

    For a group, the words up to its subcommand's name stay as they are and the rest are
    expanded against that subcommand (recursively), so one call at the root covers every leaf.
    """
    if isinstance(command, click.Group):
        for index, word in enumerate(args):
            if word.startswith("-"):
                continue  # a group's own option (--help); its subcommand comes later
            sub = command.commands.get(word)
            if sub is None:
                return list(args)  # click reports the unknown command
            head = list(args[: index + 1])
            return head + expand_command_args(ctx, sub, args[index + 1 :])
        return list(args)
    return expand_long_prefixes(ctx, command, args)


def expand_long_prefixes(
    ctx: click.Context, command: click.Command, args: Sequence[str]
) -> list[str]:
    """Replace each unambiguous prefix of one of ``command``'s long options by the option.

    Raises:
        click.UsageError: a prefix matches several long options (exit code 2).
    """
    takes_value = _takes_value(ctx, command)
    longs = sorted(name for name in takes_value if name.startswith("--"))

    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            out += [word, *args[i:]]
            break
        if not word.startswith("-") or word == "-":
            out.append(word)
            continue
        name, eq, value = word.partition("=")
        if name in AZURE_SCOPE_OPTIONS and name not in takes_value:
            if not eq and i < len(args):
                value = args[i]
                i += 1
            click.echo(
                f"ferry: ignoring {name} {value}: that is Azure's workspace scope; Ferry acts on "
                "the workspace given by --workspace, FERRY_WORKSPACE or FERRY_SERVER_URL.",
                err=True,
            )
            continue
        if name.startswith("--") and name not in takes_value:
            matches = [option for option in longs if option.startswith(name)]
            if len(matches) > 1:
                raise click.UsageError(
                    f"ambiguous option {name}: could be {', '.join(matches)}; "
                    "write more of its name.",
                    ctx=ctx,
                )
            if matches:
                name = matches[0]
        out.append(name + eq + value)
        if not eq and name in takes_value:
            # The option's value words are values even when they look like options.
            count = takes_value[name]
            out += args[i : i + count]
            i += count
    return out


def expand_group_options(ctx: click.Context, group: click.Group, args: Sequence[str]) -> list[str]:
    """A group's own options, before its subcommand's name, with their prefixes expanded
    (``ferry --work ws model list``); the words from the subcommand on are left as they are."""
    takes_value = _takes_value(ctx, group)
    head: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        word = expand_long_prefixes(ctx, group, [args[i]])[0]
        head.append(word)
        i += 1
        name, eq, _ = word.partition("=")
        count = 0 if eq else takes_value.get(name, 0)
        head += args[i : i + count]
        i += count
    return head + list(args[i:])


def _takes_value(ctx: click.Context, command: click.Command) -> dict[str, int]:
    """Each option word of ``command`` and how many words follow it."""
    takes_value: dict[str, int] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            count = 0 if param.is_flag or param.count else max(param.nargs, 1)
            for name in (*param.opts, *param.secondary_opts):
                takes_value[name] = count
    for name in command.get_help_option_names(ctx):
        takes_value.setdefault(name, 0)
    return takes_value
