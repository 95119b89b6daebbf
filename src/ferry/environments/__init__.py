"""Environments: an environment spec becomes a content hash, then a cached virtualenv built by uv.

Typical use (batch jobs and online deployments)::

    resolved = normalize_conda(model_dir / "conda.yaml")
    policy = ResolutionPolicy(exclude_newer=model_created_at(model_dir))  # or .strict()
    env = EnvironmentBuilder(workspace / "envs").ensure(resolved, policy=policy, log=job_log)
    subprocess.run([env.python, "-m", "worker", ...])

``ensure`` is cheap once built (it reads one marker file) and safe to call from many threads and
processes at once. Whatever was changed or chosen on the way (conda-only packages skipped, the
Azure server dropped, the interpreter and why, the date unpinned packages resolve as of, a pin
moved by the policy) is in ``notices`` and ``changes``.
"""

from __future__ import annotations

from ferry.environments.builder import BuiltEnvironment, EnvironmentBuilder
from ferry.environments.errors import EnvironmentBuildError, UvNotFoundError
from ferry.environments.normalize import (
    ResolvedRequirements,
    env_hash,
    normalize_conda,
    normalize_environment,
    normalize_requirements,
)
from ferry.environments.policy import ResolutionPolicy, model_created_at

__all__ = [
    "BuiltEnvironment",
    "EnvironmentBuildError",
    "EnvironmentBuilder",
    "ResolutionPolicy",
    "ResolvedRequirements",
    "UvNotFoundError",
    "env_hash",
    "model_created_at",
    "normalize_conda",
    "normalize_environment",
    "normalize_requirements",
]
