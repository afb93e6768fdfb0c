"""What an agent asks of a node (``resources: {CPU: 2, memory: 4GB, GPU: 0, <custom>: 1}``).

``CPU`` and ``GPU`` are counts (fractions allowed), ``memory`` a size (``4GB``, ``512Mi``, or
bytes), any other name a custom Ray resource (a node label such as ``big_disk: 1``). Sizes follow
Kubernetes: ``K``/``M``/``G``/``T`` (and ``KB``...) are powers of 1000, ``Ki``/``Mi``/``Gi``/``Ti``
(and ``KiB``...) powers of 1024. An agent that says nothing takes 1 CPU: a coding agent needs one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CPU, GPU, MEMORY = "CPU", "GPU", "memory"
DEFAULT_CPU = 1.0
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?)B?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
_CASE = {name.lower(): name for name in (CPU, GPU, MEMORY)}


class ResourceError(ValueError):
    """A resource request that cannot mean anything (one line naming the key)."""


@dataclass(frozen=True)
class Resources:
    """One agent's request of a node."""

    cpu: float = DEFAULT_CPU
    gpu: float = 0.0
    memory: int = 0
    """Bytes (0: none asked)."""
    custom: Mapping[str, float] = field(default_factory=dict)

    def amounts(self) -> dict[str, float]:
        """As Ray counts resources (``CPU``, ``GPU``, ``memory`` in bytes, custom names)."""
        found = {CPU: self.cpu, GPU: self.gpu, MEMORY: float(self.memory), **self.custom}
        return {name: amount for name, amount in found.items() if amount > 0}

    def ray_options(self) -> dict[str, Any]:
        """Options of the actor that runs the agent."""
        options: dict[str, Any] = {"num_cpus": self.cpu, "num_gpus": self.gpu}
        if self.memory:
            options["memory"] = self.memory
        if self.custom:
            options["resources"] = dict(self.custom)
        return options

    def describe(self) -> str:
        parts = [f"{name} {show(name, amount)}" for name, amount in self.amounts().items()]
        return ", ".join(parts) or "nothing"


def show(name: str, amount: float) -> str:
    if name == MEMORY:
        return size_text(amount)
    return f"{amount:g}"


def size_text(amount: float) -> str:
    for unit, power in (("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)):
        if amount >= 1024**power:
            return f"{amount / 1024**power:.3g}{unit}B"
    return f"{amount:.0f} bytes"


def parse_size(value: float | str) -> int:
    """``4GB`` -> 4000000000, ``512Mi`` -> 536870912, a number -> bytes."""
    if isinstance(value, int | float):
        if value < 0:
            raise ResourceError(f"memory {value} is negative")
        return int(value)
    match = _SIZE.match(value)
    if match is None:
        raise ResourceError(f"memory {value!r} is no size: write 4GB, 512Mi or a number of bytes")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** _POWERS[unit.upper()])


def parse_resources(raw: Mapping[str, float | str]) -> Resources:
    """The request these settings make; `ResourceError` for the first key that means nothing."""
    cpu, gpu, memory = DEFAULT_CPU, 0.0, 0
    custom: dict[str, float] = {}
    for key, value in raw.items():
        if key != _CASE.get(key.lower(), key):
            raise ResourceError(f"resource '{key}': did you mean '{_CASE[key.lower()]}'? (Ray's names)")
        if key == MEMORY:
            memory = parse_size(value)
            continue
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ResourceError(f"resource '{key}' must be a number, not {value!r}") from None
        if value < 0:
            raise ResourceError(f"resource '{key}' is negative ({value:g})")
        if key == CPU:
            cpu = float(value)
        elif key == GPU:
            gpu = float(value)
        else:
            custom[key] = float(value)
    return Resources(cpu=cpu, gpu=gpu, memory=memory, custom=custom)


def fits(request: Resources, totals: Mapping[str, float]) -> bool:
    """Whether a node with these totals could ever run the request."""
    return all(totals.get(name, 0.0) >= amount - 1e-9 for name, amount in request.amounts().items())


def shortfall(request: Resources, nodes: list[Mapping[str, float]]) -> str:
    """Why no node fits: each asked resource no node has enough of, with the most one has."""
    missing = []
    for name, amount in request.amounts().items():
        most = max((totals.get(name, 0.0) for totals in nodes), default=0.0)
        if most < amount - 1e-9:
            has = f"the most a node has is {show(name, most)}" if most else "no node has any"
            missing.append(f"{name} {show(name, amount)} ({has})")
    if not missing:
        return f"no single node has all of {request.describe()}"
    return "; ".join(missing)
