"""Validation, errors and serialisation of the Bispectrum API."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from pyolcaoml import Bispectrum, MultiScaleBispectrum, Structure
from pyolcaoml._fortran import core
from pyolcaoml.bispectrum import descriptor_from_dict


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(twojmax=-1), "twojmax"),
        (dict(twojmax=99), "twojmax"),
        (dict(twojmax=2.5), "twojmax"),
        (dict(rcutfac=0.0), "rcutfac"),
        (dict(rcutfac=-1.0), "rcutfac"),
        (dict(rcutfac=float("nan")), "rcutfac"),
        (dict(rfac0=0.0), "rfac0"),
        (dict(rfac0=1.2), "rfac0"),
        (dict(rmin0=-0.1), "rmin0"),
        (dict(rmin0=5.0), "rmin0"),
        (dict(radii={"Si": 0.0}), "radii"),
        (dict(radii={}), "radii"),
        (dict(radii={"Si": 2.3, "C": 2.0}, weights={"Si": 1.0}), "weights"),
        (dict(switch="yes"), "switch"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Bispectrum(**kwargs)


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        Bispectrum(8)  # type: ignore[misc]


def si8() -> Structure:
    return Structure.from_ase(bulk("Si", cubic=True))


def test_non_finite_positions() -> None:
    s = si8()
    pos = s.positions.copy()
    pos[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Bispectrum().compute(Structure(s.cell, pos, s.symbols))


def test_singular_cell() -> None:
    cell = np.array([[5.0, 0, 0], [0, 5.0, 0], [5.0, 5.0, 0]])
    with pytest.raises(ValueError, match="singular"):
        Bispectrum().compute(Structure(cell, [[0, 0, 0], [1, 1, 0]], ["Si", "Si"]))


def test_element_without_radius() -> None:
    atoms = bulk("SiC", "zincblende", a=4.36)
    with pytest.raises(ValueError, match="radii: no radius for element.*C"):
        Bispectrum(radii={"Si": 2.4}).compute(atoms)


def test_two_atoms_at_the_same_point() -> None:
    s = si8()
    pos = np.vstack([s.positions, s.positions[2]])
    with pytest.raises(ValueError, match="same point"):
        Bispectrum().compute(Structure(s.cell, pos, s.symbols + ("Si",)))


def test_empty_structure() -> None:
    with pytest.raises(ValueError, match="no atoms"):
        Bispectrum().compute(Atoms(cell=5 * np.eye(3), pbc=True))


def test_bad_centers_and_threads() -> None:
    with pytest.raises(ValueError, match="centers"):
        Bispectrum().compute(si8(), centers=[8])
    with pytest.raises(ValueError, match="n_threads"):
        Bispectrum().compute(si8(), n_threads=0)


def test_wrong_input_type() -> None:
    with pytest.raises(TypeError, match="Structure or ase.Atoms"):
        Bispectrum().compute(np.zeros((3, 3)))


def test_fortran_reports_status_not_crash() -> None:
    """The core itself rejects bad input with a status (no stop, no crash)."""
    b, status, message = core().oml_bispectrum(
        5,
        np.asfortranarray(np.eye(3) * 5),
        np.zeros((3, 1), order="F"),
        np.array([1], dtype=np.int32),
        np.array([2.35]),
        np.array([1.0]),
        np.array([1], dtype=np.int32),
        2,
        1.0,
        1.5,
        0.0,
        1,
        0,
        0,
        0,
        0,
        0,
    )
    assert status == 1 and b"rfac0" in message


@pytest.mark.parametrize(
    "desc",
    [
        Bispectrum(
            twojmax=5,
            rcutfac=0.9,
            radii={"Si": 2.3, "C": 2.0},
            weights={"Si": 1.0, "C": 0.5},
            bzero=True,
            chem=True,
        ),
        MultiScaleBispectrum(scales=[1.0, 1.5, 2.0], twojmax=4),
    ],
)
def test_to_dict_round_trip(desc) -> None:
    again = descriptor_from_dict(desc.to_dict())
    assert again == desc
    atoms = bulk("SiC", "zincblende", a=4.36) if "C" in desc.elements else bulk("Si")
    s = Structure.from_ase(atoms)
    np.testing.assert_array_equal(again.compute(s), desc.compute(s))


def test_labels() -> None:
    d = Bispectrum(twojmax=2, radii={"Si": 2.3, "C": 2.0}, chem=True)
    assert len(d.labels) == d.n_features == 5 * 8
    assert d.labels[0] == "B[Si,Si,Si][0,0,0]"
    assert Bispectrum(twojmax=2).labels == [
        "B[0,0,0]",
        "B[1,0,1]",
        "B[1,1,2]",
        "B[2,0,2]",
        "B[2,2,2]",
    ]
