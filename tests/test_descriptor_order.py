"""The element order of a multi-element descriptor survives storage.

Datasets and models store descriptor settings as JSON with sorted keys,
which reorders the radii/weights dicts; with ``chem`` the element order
defines the feature blocks, so it must be kept (``elements``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.bispectrum import Bispectrum, MultiScaleBispectrum, descriptor_from_dict


@pytest.mark.parametrize("multiscale", [False, True])
def test_chem_element_order_survives_sorted_json(multiscale) -> None:
    kw = dict(twojmax=2, radii={"Si": 2.35, "C": 1.609}, chem=True)
    d = (
        MultiScaleBispectrum(scales=[1.0, 1.5], **kw)
        if multiscale
        else Bispectrum(**kw)
    )
    stored = json.loads(json.dumps(d.to_dict(), sort_keys=True))
    assert list(stored["radii"]) == ["C", "Si"]  # what sorting does
    again = descriptor_from_dict(stored)
    assert again.elements == ("Si", "C") and again == d
    atoms = bulk("SiC", "zincblende", a=4.36) * (2, 1, 1)
    atoms.rattle(0.05, seed=10000)
    np.testing.assert_array_equal(again.compute(atoms), d.compute(atoms))
    # the other order really is a different descriptor (the test can fail)
    swapped = dict(stored, elements=["C", "Si"])
    assert not np.allclose(
        descriptor_from_dict(swapped).compute(atoms), d.compute(atoms)
    )


def test_single_element_settings_unchanged() -> None:
    assert "elements" not in Bispectrum(radii={"Si": 2.35}).to_dict()


def test_inconsistent_elements_are_an_error() -> None:
    d = Bispectrum(radii={"Si": 2.35, "C": 1.6}).to_dict()
    d["elements"] = ["Si", "Ge"]
    with pytest.raises(ValueError, match="radii: elements"):
        descriptor_from_dict(d)
