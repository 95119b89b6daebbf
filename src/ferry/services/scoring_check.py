"""Check a deployment's scoring script when the deployment is created, not when it first runs.

Shared by online and batch deployments. The script is *parsed* (``ast``), never imported: its
imports may need the deployment's environment, and running user code in the server is not the
the services' job. What is checked: the file is in the code folder, it compiles, and it defines the
contract's functions at module level (online: ``init()`` and ``run()``, as
azureml-inference-server-http requires; batch: ``run()``, with ``init()`` optional as in
ParallelRunStep and as the worker treats it). Each refusal names the file, the line and the fix.
"""

from __future__ import annotations

import ast
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

from ferry.errors import NotFoundError, SpecError

__all__ = ["check_scoring_script", "top_level_names"]

_FIELD = "code_configuration.scoring_script"


def check_scoring_script(folder: Path, script: str, *, online: bool) -> None:
    """Refuse a scoring script that is missing, does not compile or lacks the contract functions.

    Args:
        folder: the code folder, as stored.
        script: ``code_configuration.scoring_script`` (relative to the code folder).
        online: online deployments need ``init()`` and ``run()``; batch ones need ``run()``.

    Raises:
        NotFoundError: the script is not in the code folder.
        SpecError: it does not compile, or a required function is not defined.
    """
    path = folder / script
    if not path.is_file():
        held = sorted(p.name for p in folder.iterdir())[:20] if folder.is_dir() else []
        raise NotFoundError(
            f"scoring_script {script!r} is not in the code folder (it holds: "
            f"{', '.join(held) or 'nothing'}); fix code_configuration.scoring_script (a path "
            "relative to code_configuration.code).",
            details={"field": _FIELD},
        )
    try:
        with warnings.catch_warnings():
            # An invalid escape ("\d") only warns; where warnings are errors it would read as a
            # SyntaxError and refuse a script that runs.
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_bytes(), filename=script)
    except SyntaxError as exc:
        where = f"{script}, line {exc.lineno}" if exc.lineno else script
        text = (exc.text or "").strip()
        shown = f": {text}" if text else ""
        raise SpecError(
            f"{where}: {exc.msg}{shown} (parsed with Python {platform.python_version()}, the "
            f"server's); fix the script so that `python -m py_compile {script}` passes, then "
            "create the deployment again.",
            details={"field": _FIELD, "file": script, "line": exc.lineno},
        ) from exc
    except ValueError as exc:  # NUL bytes: not Python source at all
        raise SpecError(
            f"{script} is not Python source ({exc}); code_configuration.scoring_script must name "
            "a .py file.",
            details={"field": _FIELD, "file": script},
        ) from exc
    names = top_level_names(tree)
    if names is None:  # `from x import *`: what it binds is known only by running it
        return
    required = ("init", "run") if online else ("run",)
    for function in required:
        if function not in names:
            raise SpecError(
                f"{script} defines no {function}() function at module level; "
                f"{_contract(online)}. Add `def {function}({_signature(function, online)}):` "
                f"to {script}.",
                details={"field": _FIELD, "file": script, "missing": function},
            )


def top_level_names(tree: ast.Module) -> set[str] | None:
    """Names the module binds at its top level (also inside if/try/with), or ``None`` when a
    star import makes them unknowable."""
    names: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    # Definitions under `if`/`try`/`with` at module level still bind module names.
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.AsyncWith)):
            yield from _top_level(node.body)
            yield from _top_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)


def _contract(online: bool) -> str:
    if online:
        return "an online scoring script defines init() (load the model) and run(raw_data)"
    return "a batch scoring script defines run(mini_batch) (init() is optional)"


def _signature(function: str, online: bool) -> str:
    if function == "init":
        return ""
    return "raw_data" if online else "mini_batch"
