"""The machine-learned potential: one Keras network per element.

Importing this package does not import TensorFlow; the functions that need it
import it themselves.

- :func:`load_model` / :class:`PotentialModel` -- a saved model and prediction;
- :func:`train_model` / :class:`TrainConfig` -- training;
- :func:`train_ensemble` -- M networks per element (per-atom sigma);
- :class:`RadialMetric` -- the V(r) error metric (Hartree);
- :func:`load_dataset` -- the HDF5 training data.
"""

from __future__ import annotations

from pyolcaoml.model.data import Dataset, load_dataset, split_structures
from pyolcaoml.model.ensemble import train_ensemble
from pyolcaoml.model.errors import ModelError
from pyolcaoml.model.potential import DEFAULT_METRIC, RadialMetric
from pyolcaoml.model.saved import PotentialModel, load_model, read_metadata
from pyolcaoml.model.training import TrainConfig, train_model

__all__ = [
    "DEFAULT_METRIC",
    "Dataset",
    "ModelError",
    "PotentialModel",
    "RadialMetric",
    "TrainConfig",
    "load_dataset",
    "load_model",
    "read_metadata",
    "split_structures",
    "train_ensemble",
    "train_model",
]
