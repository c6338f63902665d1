"""The held-apart rattled Si cells shared by the rattled-cell spikes
(docs/model.md, stops 38 and 39): one split, so their tables compare."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigma_of(name: str) -> float:
    """The rattle amplitude (Å) of a ``si8_r{σ}_seed...`` cell."""
    return float(name.split("_r")[1].split("_")[0])


def rattled_cells(names: Sequence[str]) -> list[str]:
    """The rattled 8-atom cells (``si8_r*``), sorted."""
    return sorted(n for n in names if n.startswith("si8_r"))


def held_apart_rattled(names: Sequence[str], seed: int = 7) -> list[str]:
    """A seeded quarter of :func:`rattled_cells`, sorted."""
    rattled = rattled_cells(names)
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(rattled, size=len(rattled) // 4, replace=False))


def rows_in_order(dataset, names: Sequence[str], symbol: str = "Si") -> np.ndarray:
    """The dataset's ``symbol`` rows of ``names``, structure by structure in
    the order given (``element_rows`` of several ids keeps dataset order)."""
    return np.concatenate(
        [dataset.element_rows(symbol, dataset.structure_ids([n])) for n in names]
    )
