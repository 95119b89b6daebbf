"""Helpers for the example tests: copies of an example folder, user scripts loaded as modules."""

from __future__ import annotations

import importlib.util
import shutil
import uuid
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Files the example scripts write next to themselves; never copied.
GENERATED = shutil.ignore_patterns("model", "data", "tiny-flux", "outputs", "__pycache__")


def load_script(path: Path) -> ModuleType:
    """Import a user script from its file under a fresh module name, as a worker would."""
    name = f"{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_example(name: str, dest: Path, *, with_data: bool = False) -> Path:
    """The example folder as a user would have it, without what its scripts generate."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=GENERATED)
    if with_data:
        shutil.copytree(EXAMPLES / name / "data", target / "data")
    return target
