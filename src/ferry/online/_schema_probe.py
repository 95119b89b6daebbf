"""Print a scoring script's inference-schema input/output schemas as JSON (run in its env).

Usage: ``python _schema_probe.py ENTRY_SCRIPT CODE_DIR`` with the runtime's package folder on
``PYTHONPATH``. The script is imported (its module-level code runs) but ``init()`` is not called.
Standard library only at module level: it runs with the deployment's interpreter.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def probe(entry_script: str, code_dir: str) -> dict[str, Any]:
    """The schemas of ``run`` (``decorated`` is false when it has none)."""
    from ferry.runtime.azureml_shims import install_shims
    from ferry.runtime.loader import load_entry_script

    install_shims()
    script = load_entry_script(entry_script, code_dir, require_init=False, online=True)
    if "inference_schema" not in sys.modules:
        return {"decorated": False}
    from inference_schema import schema_util  # type: ignore[import-untyped]

    if not schema_util.is_schema_decorated(script.run):
        return {"decorated": False}
    return {
        "decorated": True,
        "input": schema_util.get_input_schema(script.run),
        "output": schema_util.get_output_schema(script.run),
        "versions": schema_util.get_supported_versions(script.run),
    }


if __name__ == "__main__":
    result = probe(sys.argv[1], sys.argv[2])
    sys.stdout.write("\n@@FERRY-SCHEMA@@" + json.dumps(result, default=str) + "\n")
