"""Load a user's entry script (``score.py``, ``batch_driver.py``) the way Azure ML does."""

from __future__ import annotations

import os
import sys
from importlib.util import module_from_spec, spec_from_file_location

from .logs import ERROR, log

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import Any

__all__ = ["EntryScriptError", "LoadedScript", "load_entry_script", "set_argv"]

# Azure's scoring server loads the script under this name; scripts that look at __name__ agree.
MODULE_NAME = "entry_module"


class EntryScriptError(Exception):
    """The entry script is missing or does not follow the scoring-script contract."""


class LoadedScript:
    """An imported entry script and the contract functions it defines.

    A plain class, not a dataclass: dataclasses (with inspect and ast) cost every worker start
    ~6 ms.
    """

    def __init__(
        self,
        path: str,
        module: ModuleType,
        run: Callable[..., Any],
        init: Callable[[], Any] | None,
        shutdown: Callable[[], Any] | None,
        run_batch: Callable[..., Any] | None,
    ) -> None:
        self.path = path
        self.module = module
        self.run = run
        self.init = init
        self.shutdown = shutdown
        self.run_batch = run_batch

    @property
    def name(self) -> str:
        """The script's file name, e.g. ``score.py``."""
        return os.path.basename(self.path)

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
            log(ERROR, f"{self.name}: shutdown() raised; the worker exits anyway", exc_info=True)


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
            f"{os.path.basename(module.__file__ or '?')} defines {name} but it is a "
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
    path = os.path.abspath(path)
    name = os.path.basename(path)
    code_dir = os.path.abspath(code_dir) if code_dir else os.path.dirname(path)
    if not os.path.isfile(path):
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
