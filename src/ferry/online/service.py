"""The online service: runs every deployment of the workspace and keeps the routing table.

It reconciles the store's desired state with running replicas: on server start every stored
deployment is brought back; a new or updated deployment is prepared (model, code, environment),
started, and swapped in only once all its replicas are ready, so an update never drops traffic
and a failed update leaves the previous version serving. All methods run on the server's event
loop; blocking work (store, environment builds) goes to threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from ferry.errors import FerryError
from ferry.online.channel import Hub
from ferry.online.logs import read_logs
from ferry.online.metrics import Metrics
from ferry.online.plan import Preparer, ReplicaPlan
from ferry.online.pool import DeploymentPool
from ferry.online.replica import Replica
from ferry.online.routing import EndpointRoute
from ferry.online.supervisor import Supervisor
from ferry.online.swagger import read_schemas, swagger_document, swagger_version, user_swagger
from ferry.runtime.messages import TOKEN_ENV
from ferry.services.endpoint_keys import KeyRing
from ferry.services.online import OnlineEndpointService
from ferry.specs.online import OnlineDeploymentSpec
from ferry.specs.states import DeploymentState

__all__ = ["OnlineService"]

_log = logging.getLogger("ferry.online")
Key = tuple[str, str]


class OnlineService:
    """Owns the replicas of every online deployment of one server."""

    def __init__(self, endpoints: OnlineEndpointService, prepare: Preparer, root: Path) -> None:
        self.endpoints = endpoints
        self.metrics = Metrics()
        self.routes: dict[str, EndpointRoute] = {}
        self._prepare = prepare
        self._root = root
        self._hub = Hub()
        self._serving: dict[Key, Supervisor] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._schemas: dict[int, dict[str, Any]] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for replicas, then bring back every stored endpoint and deployment."""
        await self._hub.start()
        for endpoint in await asyncio.to_thread(self.endpoints.list_endpoints):
            await self.refresh_endpoint(endpoint["name"])
        for spec in await asyncio.to_thread(self.endpoints.all_deployments):
            if spec.endpoint_name in self.routes:
                self.deploy(spec.endpoint_name, spec, restart=True)

    async def stop(self) -> None:
        """Stop every replica (on server shutdown)."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*(s.stop() for s in self._serving.values()), return_exceptions=True)
        self._serving.clear()
        await self._hub.close()

    def pools(self) -> list[DeploymentPool]:
        return [s.pool for s in self._serving.values()]

    # -- endpoints ------------------------------------------------------------------------------
    async def refresh_endpoint(self, name: str) -> None:
        """Reload an endpoint's keys, auth mode and traffic after it changed."""

        def load() -> tuple[Any, Any]:
            return self.endpoints.endpoint_spec(name), self.endpoints.credentials(name)

        spec, credentials = await asyncio.to_thread(load)
        route = EndpointRoute(
            name,
            KeyRing(name, spec.auth_mode, credentials),
            spec.traffic or {},
            spec.mirror_traffic or {},
        )
        previous = self.routes.get(name)
        if previous is not None:
            route.pools, route.states = previous.pools, previous.states
        self.routes[name] = route

    async def remove_endpoint(self, name: str) -> None:
        route = self.routes.pop(name, None)
        if route is None:
            return
        for deployment in {*route.pools, *route.states, *(d for e, d in self._tasks if e == name)}:
            await self.remove_deployment(name, deployment)

    # -- deployments ----------------------------------------------------------------------------
    def deploy(
        self,
        endpoint: str,
        spec: OnlineDeploymentSpec,
        *,
        restart: bool = False,
        all_traffic: bool = False,
    ) -> None:
        """Start (or replace) a deployment in the background.

        ``all_traffic`` gives it 100% of the live traffic once it is ready (``--all-traffic``).
        """
        key = (endpoint, spec.name)
        running = self._tasks.pop(key, None)
        if running is not None:
            running.cancel()
        route = self.routes.get(endpoint)
        if route is not None and spec.name not in route.pools:
            route.states[spec.name] = f"{DeploymentState.CREATING}: its replicas are starting"
        task = asyncio.get_running_loop().create_task(
            self._deploy(endpoint, spec, restart, all_traffic)
        )
        self._tasks[key] = task
        task.add_done_callback(
            lambda t: self._tasks.pop(key, None) if self._tasks.get(key) is t else None
        )

    async def _deploy(
        self, endpoint: str, spec: OnlineDeploymentSpec, restart: bool, all_traffic: bool
    ) -> None:
        key = (endpoint, spec.name)
        if restart:
            await self._set_state(key, DeploymentState.CREATING, None)
        folder = self._root / endpoint / spec.name
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        try:
            plan = await asyncio.to_thread(self._prepare_logged, endpoint, spec, folder)
        except FerryError as exc:
            await self._failed(key, exc.message)
            return
        except Exception as exc:  # a bug must still leave a clear state, not a stuck Creating
            _log.exception("preparing online deployment %s/%s", *key)
            await self._failed(key, f"internal error while preparing ({type(exc).__name__}: {exc})")
            return
        try:
            # Replicas on a cluster's nodes connect back over TCP; local ones over the socket.
            address = await self._hub.address_for(plan.compute.transport, plan.compute.listen_host)
        except OSError as exc:
            await self._failed(key, f"cannot listen for the deployment's replicas: {exc}")
            return
        # One secret per rollout: replicas send it first (TCP peers on a cluster's network could
        # otherwise pose as one); it travels in secret_env, never in argv or a file.
        token = {TOKEN_ENV: secrets.token_urlsafe(32)}
        secret_env = {**plan.worker.secret_env, **token}
        worker = replace(plan.worker, connect=address, secret_env=secret_env)
        plan = replace(plan, worker=worker)
        capacity = DeploymentPool.capacity_per_process(spec)
        count = spec.instance_count * spec.worker_count
        replicas = [Replica(f"{spec.name}-{i}", plan, self._hub, capacity) for i in range(count)]
        pool = DeploymentPool(endpoint, spec, plan, replicas, self.metrics)

        async def on_state(state: DeploymentState, error: str | None) -> None:
            if state is DeploymentState.SUCCEEDED:
                self._swap_in(key, supervisor)
                note = await self._take_all_traffic(key) if all_traffic else None
                await self._set_state(key, state, note)
            else:
                await self._failed(key, error or "the deployment failed; see its logs")

        supervisor = Supervisor(pool, self.metrics, on_state)
        try:
            supervisor.start()
            state = await supervisor.wait_settled()
        except asyncio.CancelledError:
            await supervisor.stop(grace_s=1.0)
            raise
        except Exception as exc:  # a bug must still leave a clear state, not a stuck Creating
            _log.exception("starting online deployment %s/%s", *key)
            await supervisor.stop(grace_s=1.0)
            await self._failed(key, f"internal error while starting ({type(exc).__name__}: {exc})")
            return
        if state is not DeploymentState.SUCCEEDED:
            await supervisor.stop(grace_s=1.0)

    async def _take_all_traffic(self, key: Key) -> str | None:
        try:
            await asyncio.to_thread(self.endpoints.set_traffic, key[0], {key[1]: 100})
        except FerryError as exc:
            return f"the deployment is ready but could not take all the traffic: {exc.message}"
        await self.refresh_endpoint(key[0])
        return None

    def _prepare_logged(
        self, endpoint: str, spec: OnlineDeploymentSpec, folder: Path
    ) -> ReplicaPlan:
        with (folder / "logs" / "prepare.log").open("a", encoding="utf-8") as log:

            def write(line: str) -> None:
                log.write(line.rstrip("\n") + "\n")
                log.flush()

            write(f"preparing {endpoint}/{spec.name}")
            try:
                plan = self._prepare(endpoint, spec, write)
            except FerryError as exc:
                write(f"failed: {exc.message}")
                raise
            for notice in plan.notices:
                write(f"notice: {notice}")
            write("prepared; starting replicas")
            return plan

    def _swap_in(self, key: Key, supervisor: Supervisor) -> None:
        route = self.routes.get(key[0])
        if route is None:
            return
        previous = self._serving.get(key)
        self._serving[key] = supervisor
        route.pools[key[1]] = supervisor.pool
        route.states.pop(key[1], None)
        if previous is not None and previous is not supervisor:
            self._schemas.pop(id(previous.pool), None)
            asyncio.get_running_loop().create_task(previous.stop())

    async def _failed(self, key: Key, error: str) -> None:
        route = self.routes.get(key[0])
        if key in self._serving:
            error += "\n(the previous version of the deployment keeps serving)"
        elif route is not None:
            route.states[key[1]] = f"{DeploymentState.FAILED}: " + error.splitlines()[0]
        await self._set_state(key, DeploymentState.FAILED, error)

    async def _set_state(self, key: Key, state: DeploymentState, error: str | None) -> None:
        await asyncio.to_thread(self.endpoints.set_state, key[0], key[1], state, error)

    async def remove_deployment(self, endpoint: str, name: str) -> None:
        """Stop a deployment's replicas (it was deleted)."""
        key = (endpoint, name)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        route = self.routes.get(endpoint)
        if route is not None:
            route.pools.pop(name, None)
            route.states.pop(name, None)
        supervisor = self._serving.pop(key, None)
        if supervisor is not None:
            self._schemas.pop(id(supervisor.pool), None)
            await supervisor.stop()

    # -- views ----------------------------------------------------------------------------------
    def status(self, endpoint: str, name: str) -> dict[str, Any]:
        """Live facts for ``show``: replicas, notices."""
        supervisor = self._serving.get((endpoint, name))
        if supervisor is None:
            return {"replicas": []}
        pool = supervisor.pool
        return {
            "replicas": [r.view() for r in pool.replicas],
            "notices": list(pool.plan.notices),
        }

    def logs(self, endpoint: str, name: str, lines: int, container_type: str | None) -> str:
        """The last ``lines`` lines of each replica's log (or the preparation log)."""
        return read_logs(self._root / endpoint / name / "logs", lines, container_type)

    async def swagger(self, pool: DeploymentPool, query: str) -> dict[str, Any]:
        version = swagger_version(query)
        own = await asyncio.to_thread(user_swagger, pool.plan.code_dir, version)
        if own is not None:
            return own[1]
        schemas = pool.plan.schemas or self._schemas.get(id(pool))
        if schemas is None:
            schemas = await asyncio.to_thread(read_schemas, pool.plan.worker)
            self._schemas[id(pool)] = schemas
        return swagger_document(
            schemas, endpoint=pool.endpoint, deployment=pool.name, version=version
        )
