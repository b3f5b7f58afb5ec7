"""GPUs on this machine, and which trial holds which: one device (or a share, or several) per
trial, handed over through ``CUDA_VISIBLE_DEVICES``.

The devices come from an explicit list (``executor.gpus: [0, 2]``), else NVML (``pynvml``,
when it can be imported), else ``nvidia-smi --query-gpu=index --format=csv,noheader``. None
found is an error before anything runs: a study that asks for GPUs never runs on the CPU by
surprise.

A trial asks for ``gpu`` devices (``executor.resources_per_trial.gpu``): a fraction (``0.5``:
two trials share a device, ``0.25``: four) or a whole number (``2``: two devices of its own).
Shares are counted in exact fractions, so four quarters fill a device and a fifth waits. A
fractional trial goes to the device with the most room left (ties: lowest index), which spreads
trials over the devices before stacking them; a whole-device trial takes the lowest free ones.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction

from tunewise.errors import SpecError

__all__ = ["DEVICES_ATTR", "GPU_ENV", "DevicePool", "discover_gpus", "gpu_pool"]

#: The variable each trial process gets, naming the devices it may use.
GPU_ENV = "CUDA_VISIBLE_DEVICES"
#: The trial attribute that keeps the devices a trial was given (``[0]``), set by the study's
#: driver when the trial starts: ``tunewise trials`` and the dashboard's trial page show it.
DEVICES_ATTR = "devices"
GPU_FIELD = "executor.resources_per_trial.gpu"
_ONE = Fraction(1)


def discover_gpus() -> list[str]:
    """The indices of this machine's NVIDIA GPUs as strings (``["0", "1"]``): NVML first, else
    ``nvidia-smi``; an empty list when neither finds any."""
    found = _nvml_indices()
    if found is None:
        found = _nvidia_smi_indices()
    return found


def _nvml_indices() -> list[str] | None:
    """The devices NVML counts; ``None`` when ``pynvml`` is missing or NVML cannot start."""
    try:
        import pynvml  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver: NVML's own error class, whatever its version calls it
        return None
    try:
        return [str(i) for i in range(int(pynvml.nvmlDeviceGetCount()))]
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):  # it answered: nothing more is needed of it
            pynvml.nvmlShutdown()


def _nvidia_smi_indices() -> list[str]:
    """The indices ``nvidia-smi`` lists (on ``PATH``); none when it is missing or fails."""
    command = shutil.which("nvidia-smi")
    if command is None:
        return []
    try:
        done = subprocess.run(
            [command, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip().isdigit()]


def _share(amount: float) -> Fraction:
    """``amount`` as an exact fraction (0.1 is a tenth, not 0.1000000000000000055...)."""
    return Fraction(amount).limit_denominator(1000)


class DevicePool:
    """Which trial holds which device, and how much of it. Used by one thread (the driver)."""

    def __init__(self, devices: Sequence[str], per_trial: float) -> None:
        if not devices:
            raise ValueError("a device pool needs at least one device")
        if len(set(devices)) != len(devices):
            raise ValueError(f"devices are listed twice: {list(devices)}")
        share = _share(per_trial)
        if share <= 0 or (share > 1 and share.denominator != 1):
            raise ValueError(
                f"a trial takes a fraction of one device or whole devices, not {per_trial}"
            )
        if share > len(devices):
            raise ValueError(f"a trial takes {per_trial:g} devices and there are {len(devices)}")
        self.devices = tuple(devices)
        self.per_trial = float(per_trial)
        self._share = share
        self._free = {device: _ONE for device in self.devices}
        self._held: dict[int, tuple[str, ...]] = {}

    def held(self, number: int) -> tuple[str, ...]:
        """The devices trial ``number`` holds (empty when none)."""
        return self._held.get(number, ())

    def fits(self) -> int:
        """How many more trials would get devices now."""
        free = dict(self._free)
        count = 0
        while (chosen := self._pick(free)) is not None:
            for device in chosen:
                free[device] -= min(self._share, _ONE)
            count += 1
        return count

    def acquire(self, number: int) -> tuple[str, ...] | None:
        """Devices for trial ``number`` (taken until :meth:`release`); ``None`` when none are
        free. A trial that holds devices already gets the same ones."""
        if number in self._held:
            return self._held[number]
        chosen = self._pick(self._free)
        if chosen is None:
            return None
        for device in chosen:
            self._free[device] -= min(self._share, _ONE)
        self._held[number] = chosen
        return chosen

    def release(self, number: int) -> None:
        """Give back what trial ``number`` held (nothing when it held nothing)."""
        for device in self._held.pop(number, ()):
            self._free[device] = min(_ONE, self._free[device] + min(self._share, _ONE))

    def _pick(self, free: dict[str, Fraction]) -> tuple[str, ...] | None:
        if self._share <= 1:
            room = [d for d in self.devices if free[d] >= self._share]
            if not room:
                return None
            return (max(room, key=lambda d: (free[d], -self.devices.index(d))),)
        whole = [d for d in self.devices if free[d] == _ONE]
        count = int(self._share)
        return tuple(whole[:count]) if len(whole) >= count else None


def gpu_pool(per_trial: float, explicit: Sequence[int] = ()) -> DevicePool:
    """The pool a study's executor uses: the explicit devices, else the ones found.

    Raises:
        SpecError: no device is found, or a trial asks for more devices than there are.
    """
    devices = [str(d) for d in explicit] or discover_gpus()
    if not devices:
        raise SpecError(
            GPU_FIELD,
            f"asks for {per_trial:g} GPU per trial but this machine shows none (no NVML, no "
            "GPU listed by nvidia-smi); list the devices with executor.gpus: [0, 1], or drop "
            "resources_per_trial.gpu to run the trials on the CPU",
        )
    if _share(per_trial) > len(devices):
        raise SpecError(
            GPU_FIELD,
            f"asks for {per_trial:g} GPUs per trial and there are {len(devices)} "
            f"({', '.join(devices)}); ask for at most {len(devices)}",
        )
    return DevicePool(devices, per_trial)
