"""Which GPUs of this machine a local worker gets: one worker per GPU, through
``CUDA_VISIBLE_DEVICES``.

Without this every worker of a deployment that asks for GPUs (``resources.gpus_per_worker``)
would see all of them and frameworks would put them all on device 0. The devices are, in order:
``FERRY_GPUS`` (ids like ``0,1`` or a count like ``2``), else the server's own
``CUDA_VISIBLE_DEVICES``, else what ``nvidia-smi -L`` lists. A worker gets the devices that the
fewest running workers hold (lowest id first), so N workers on N GPUs get one each (worker i gets
GPU i mod N) and a replacement takes the device its predecessor freed.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping

__all__ = ["GpuLease", "GpuSlots", "visible_gpus"]


def _nvidia_smi() -> list[str]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    count = sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
    return [str(i) for i in range(count)]


def visible_gpus(environ: Mapping[str, str]) -> list[str]:
    """The device ids local workers are spread over (empty: no GPU known)."""
    for name in ("FERRY_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = environ.get(name)
        if value is None:
            continue
        value = value.strip()
        if value.isdigit() and name == "FERRY_GPUS":
            return [str(i) for i in range(int(value))]
        return [d.strip() for d in value.split(",") if d.strip()]
    return _nvidia_smi()


class GpuLease:
    """Devices given to one worker; they count as used until :attr:`alive` says it ended."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        self.devices = devices
        #: Set once the worker started (its process's liveness); until then the devices are held.
        self.alive: Callable[[], bool] = lambda: True

    def release(self) -> None:
        """Give the devices back now (the worker could not be started)."""
        self.alive = lambda: False


class GpuSlots:
    """Hands out this machine's GPUs to workers; shared by every LocalCompute of a server so
    two deployments do not both start on device 0.

    Args:
        devices: the device ids; found with :func:`visible_gpus` on first use when None.
    """

    def __init__(self, devices: list[str] | None = None) -> None:
        self._devices = devices
        self._lock = threading.Lock()
        self._leases: list[GpuLease] = []

    def devices(self, environ: Mapping[str, str]) -> list[str]:
        """The device ids, found from ``environ`` (or ``nvidia-smi``) the first time."""
        with self._lock:
            if self._devices is None:
                self._devices = visible_gpus(environ)
            return list(self._devices)

    def take(self, count: int, environ: Mapping[str, str]) -> GpuLease:
        """``count`` devices for a new worker, the least used first (fewer when the machine has
        fewer; none when it has none or ``count`` is 0)."""
        devices = self.devices(environ)
        if count <= 0 or not devices:
            return GpuLease(())
        with self._lock:
            self._leases = [lease for lease in self._leases if lease.alive()]
            load = dict.fromkeys(devices, 0)
            for lease in self._leases:
                for d in lease.devices:
                    if d in load:
                        load[d] += 1
            order = sorted(devices, key=lambda d: (load[d], devices.index(d)))
            lease = GpuLease(tuple(sorted(order[:count], key=devices.index)))
            self._leases.append(lease)
            return lease
