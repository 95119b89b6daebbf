"""An environment's recipe: what another machine needs to build the same environment (same hash).

The builder writes it into every environment it builds (``ferry-recipe.json``), so whoever holds
only the interpreter's path (a worker spec) can find the recipe beside it and have a cluster node
build its own copy with :meth:`~ferry.environments.EnvironmentBuilder.ensure`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ferry.environments.normalize import ResolvedRequirements
from ferry.environments.policy import ResolutionPolicy

__all__ = ["RECIPE_FILE", "from_recipe", "recipe_beside", "to_recipe"]

RECIPE_FILE = "ferry-recipe.json"


def to_recipe(resolved: ResolvedRequirements, policy: ResolutionPolicy) -> dict[str, Any]:
    """``resolved`` and ``policy`` as JSON-able data (everything that enters the hash)."""
    return {
        "requirements": list(resolved.requirements),
        "python_version": resolved.python_version,
        "notices": list(resolved.notices),
        "pip_options": list(resolved.pip_options),
        "policy": {
            "relax_pins": policy.relax_pins,
            "exclude_newer": policy.exclude_newer.isoformat() if policy.exclude_newer else None,
            "date_from_pins": policy.date_from_pins,
            "strict_python": policy.strict_python,
            "refuse_changes": policy.refuse_changes,
        },
    }


def from_recipe(recipe: dict[str, Any]) -> tuple[ResolvedRequirements, ResolutionPolicy]:
    """The inverse of :func:`to_recipe`."""
    p = recipe["policy"]
    resolved = ResolvedRequirements(
        requirements=tuple(recipe["requirements"]),
        python_version=recipe["python_version"],
        notices=tuple(recipe["notices"]),
        pip_options=tuple(recipe["pip_options"]),
    )
    policy = ResolutionPolicy(
        relax_pins=bool(p["relax_pins"]),
        exclude_newer=datetime.fromisoformat(p["exclude_newer"]) if p["exclude_newer"] else None,
        date_from_pins=bool(p["date_from_pins"]),
        strict_python=bool(p["strict_python"]),
        refuse_changes=bool(p["refuse_changes"]),
    )
    return resolved, policy


def recipe_beside(python: str | Path) -> dict[str, Any] | None:
    """The recipe of the built environment whose interpreter is ``python`` (``<env>/bin/python``),
    or None when it is not one the builder made (the server's own interpreter, for one)."""
    try:
        data = json.loads((Path(python).parent.parent / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
