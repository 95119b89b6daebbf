"""Which deployment serves a request: the caller's choice, else the endpoint's traffic split.

``azureml-model-deployment: NAME`` sends a request to that deployment whatever its traffic (and
is never mirrored). Otherwise a weighted random choice follows ``traffic``; ``mirror_traffic``
copies that share of live requests to its deployment.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping

from ferry.errors import ErrorCode, GatewayError
from ferry.online.pool import DeploymentPool
from ferry.services.endpoint_keys import KeyRing

__all__ = ["EndpointRoute"]


class EndpointRoute:
    """One endpoint as the gateway sees it: keys, traffic split, mirror, running pools."""

    __slots__ = ("_bounds", "_names", "keys", "mirror", "mirror_share", "name", "pools", "states")

    def __init__(
        self,
        name: str,
        keys: KeyRing,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
    ) -> None:
        self.name = name
        self.keys = keys
        self.pools: dict[str, DeploymentPool] = {}
        self.states: dict[str, str] = {}  # deployments without a serving pool: why
        live = [(d, p) for d, p in sorted(traffic.items()) if p > 0]
        self._names = [d for d, _ in live]
        self._bounds: list[int] = []
        total = 0
        for _, percent in live:
            total += percent
            self._bounds.append(total)
        mirrored = [(d, p) for d, p in mirror.items() if p > 0]
        self.mirror = mirrored[0][0] if mirrored else None
        self.mirror_share = mirrored[0][1] / 100 if mirrored else 0.0

    def pick(self, pinned: bytes | None) -> DeploymentPool:
        """The pool for this request; raises GatewayError 404/503 when there is none."""
        if pinned is not None:
            name = pinned.decode("latin-1").strip()
            pool = self.pools.get(name)
            if pool is None:
                raise self._missing(name, pinned=True)
            return pool
        if not self._bounds:
            raise GatewayError(
                ErrorCode.NO_TRAFFIC,
                f"No valid deployments to route to: endpoint {self.name!r} has no deployment "
                "with traffic. Set traffic (ferry online-endpoint update --name "
                f'{self.name} --traffic "<deployment>=100") or name a deployment with the '
                "header azureml-model-deployment.",
            )
        index = 0
        if len(self._bounds) > 1:
            index = bisect.bisect_right(self._bounds, random.random() * self._bounds[-1])
        name = self._names[index]
        pool = self.pools.get(name)
        if pool is None:
            raise self._missing(name, pinned=False)
        return pool

    def mirror_pool(self) -> DeploymentPool | None:
        """The mirror deployment's pool when this request is to be copied, else ``None``."""
        if self.mirror is None or random.random() >= self.mirror_share:
            return None
        return self.pools.get(self.mirror)

    def _missing(self, name: str, *, pinned: bool) -> GatewayError:
        state = self.states.get(name)
        if state is not None:
            return GatewayError(
                ErrorCode.NOT_READY,
                f"deployment {name!r} of endpoint {self.name!r} is not serving ({state}); "
                f"check it with `ferry online-deployment show --name {name} --endpoint-name "
                f"{self.name}`.",
            )
        known = sorted(set(self.pools) | set(self.states))
        return GatewayError(
            ErrorCode.DEPLOYMENT_NOT_FOUND,
            f"endpoint {self.name!r} has no deployment {name!r}"
            + (" (from the azureml-model-deployment header)" if pinned else "")
            + f"; its deployments are: {', '.join(known) or 'none'}.",
        )
