"""Load a user's entry script (``score.py``, ``batch_driver.py``) the way Azure ML does."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["EntryScriptError", "LoadedScript", "load_entry_script", "set_argv"]

logger = logging.getLogger("ferry.runtime")

# Azure's scoring server loads the script under this name; scripts that look at __name__ agree.
MODULE_NAME = "entry_module"


class EntryScriptError(Exception):
    """The entry script is missing or does not follow the scoring-script contract."""


@dataclass
class LoadedScript:
    """An imported entry script and the contract functions it defines."""

    path: str
    module: ModuleType
    run: Callable[..., Any]
    init: Callable[[], Any] | None
    shutdown: Callable[[], Any] | None
    run_batch: Callable[..., Any] | None

    @property
    def name(self) -> str:
        """The script's file name, e.g. ``score.py``."""
        return Path(self.path).name

    def call_init(self) -> None:
        """Call ``init()`` if the script defines one; its exceptions propagate."""
        if self.init is not None:
            self.init()

    def call_shutdown(self) -> None:
        """Call ``shutdown()`` if defined; an exception there is logged, never raised."""
        if self.shutdown is None:
            return
        try:
            self.shutdown()
        except Exception:
            logger.exception("%s: shutdown() raised; the worker exits anyway", self.name)


def set_argv(script_path: str, user_args: Sequence[str], logging_level: str | None = None) -> None:
    """Make ``sys.argv`` what the script expects: its path, the user arguments, then
    ``--logging_level X`` (ParallelRunStep passes it; scripts read it with ``parse_known_args``).
    """
    argv = [script_path, *user_args]
    if logging_level is not None:
        argv += ["--logging_level", logging_level]
    sys.argv[:] = argv


def _function(module: ModuleType, name: str) -> Callable[..., Any] | None:
    value = getattr(module, name, None)
    if value is not None and not callable(value):
        raise EntryScriptError(
            f"{Path(module.__file__ or '?').name} defines {name} but it is a "
            f"{type(value).__name__}, not a function; define it with 'def {name}(...)'"
        )
    return value


def load_entry_script(
    path: str, code_dir: str | None = None, *, require_init: bool, online: bool
) -> LoadedScript:
    """Import the entry script from its file and check that it defines the contract functions.

    The code folder becomes the working directory and the first entry of ``sys.path``, so the
    script can import its sibling modules and open files by relative path.

    Args:
        path: absolute path of the script.
        code_dir: the code folder (default: the script's folder).
        require_init: whether ``init()`` is mandatory (online: yes, as in
            azureml-inference-server-http; batch: no, as in ParallelRunStep).
        online: chooses the wording of error messages (scoring script vs batch script).

    Raises:
        EntryScriptError: the file is missing or ``run``/``init`` is not defined.
        BaseException: whatever importing the script raised (its own import errors, bugs).
    """
    script = Path(path).absolute()
    path, name = str(script), script.name
    code_dir = str(Path(code_dir).absolute()) if code_dir else str(script.parent)
    if not script.is_file():
        raise EntryScriptError(
            f"entry script {path} does not exist; check code_configuration.scoring_script "
            f"(a path relative to code_configuration.code, here {code_dir})"
        )
    os.chdir(code_dir)
    if code_dir in sys.path:
        sys.path.remove(code_dir)
    sys.path.insert(0, code_dir)

    spec = spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise EntryScriptError(f"{path} cannot be imported as a Python module; use a .py file")
    module = module_from_spec(spec)
    # Registered before running it: dataclasses and pickling look the module up by name.
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise

    contract = (
        "a scoring script must define init() and run(...)"
        if online
        else "a batch scoring script must define run(mini_batch); init() and shutdown() are "
        "optional"
    )
    run = _function(module, "run")
    if run is None:
        raise EntryScriptError(f"{name} defines no run() function; {contract}")
    init = _function(module, "init")
    if init is None and require_init:
        raise EntryScriptError(f"{name} defines no init() function; {contract}")
    return LoadedScript(
        path=path,
        module=module,
        run=run,
        init=init,
        shutdown=_function(module, "shutdown"),
        run_batch=_function(module, "run_batch") if online else None,
    )
