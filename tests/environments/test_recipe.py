"""The recipe a built environment keeps, from which a cluster node builds the same hash."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ferry.environments import (
    EnvironmentBuilder,
    ResolutionPolicy,
    env_hash,
    normalize_requirements,
)
from ferry.environments.recipe import from_recipe, recipe_beside, to_recipe


def test_a_recipe_round_trips_to_the_same_hash() -> None:
    resolved = normalize_requirements(
        ["Scikit_Learn >= 1.0", "--extra-index-url https://example.org/simple", "six"],
        python_version="3.11",
    )
    policy = ResolutionPolicy(
        relax_pins=False, exclude_newer=datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    )
    again, again_policy = from_recipe(to_recipe(resolved, policy))
    assert (again, again_policy) == (resolved, policy)
    assert env_hash(again, again_policy) == env_hash(resolved, policy)


def test_a_built_environment_keeps_its_recipe_beside_its_interpreter(tmp_path: Path) -> None:
    resolved = normalize_requirements([])
    built = EnvironmentBuilder(tmp_path).ensure(resolved)
    recipe = recipe_beside(built.python)
    assert recipe is not None
    assert env_hash(*from_recipe(recipe)) == built.hash
    # the server's own interpreter (ferry:server-python) has none: nothing to build on a node
    assert recipe_beside(tmp_path / "elsewhere" / "bin" / "python") is None
