"""Invariances of the bispectrum and independence from the thread count."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from pyolcaoml import Bispectrum, MultiScaleBispectrum, Structure


@pytest.fixture(scope="module")
def amorphous() -> Atoms:
    """A random 40-atom Si cell (minimum distance 2.1 Å), triclinic."""
    rng = np.random.default_rng(5)
    cell = np.array([[9.0, 0.0, 0.0], [1.5, 9.2, 0.0], [-0.8, 1.1, 8.8]])
    atoms = Atoms(cell=cell, pbc=True)
    while len(atoms) < 40:
        trial = atoms + Atoms("Si", scaled_positions=[rng.uniform(0, 1, 3)], cell=cell)
        if (
            len(trial) == 1
            or trial.get_distances(
                len(trial) - 1, range(len(trial) - 1), mic=True
            ).min()
            > 2.1
        ):
            atoms = trial
    atoms.pbc = True
    return atoms


@pytest.fixture(scope="module")
def desc() -> Bispectrum:
    return Bispectrum(twojmax=7, radii={"Si": 2.35})


def test_rotation(amorphous: Atoms, desc: Bispectrum) -> None:
    rot = Rotation.random(random_state=3).as_matrix()
    rotated = amorphous.copy()
    rotated.set_cell(amorphous.cell[:] @ rot.T, scale_atoms=False)
    rotated.positions = amorphous.positions @ rot.T
    np.testing.assert_allclose(
        desc.compute(rotated), desc.compute(amorphous), rtol=1e-10, atol=1e-10
    )


def test_translation(amorphous: Atoms, desc: Bispectrum) -> None:
    moved = amorphous.copy()
    moved.positions += [3.7, -11.2, 0.4]
    np.testing.assert_allclose(
        desc.compute(moved), desc.compute(amorphous), rtol=1e-10, atol=1e-10
    )


def test_permutation(amorphous: Atoms, desc: Bispectrum) -> None:
    order = np.random.default_rng(1).permutation(len(amorphous))
    np.testing.assert_allclose(
        desc.compute(amorphous[order]),
        desc.compute(amorphous)[order],
        rtol=1e-12,
        atol=1e-12,
    )


def test_supercell(amorphous: Atoms, desc: Bispectrum) -> None:
    big = amorphous.repeat((2, 1, 3))
    np.testing.assert_allclose(
        desc.compute(big),
        np.tile(desc.compute(amorphous), (6, 1)),
        rtol=1e-10,
        atol=1e-10,
    )


def test_threads_give_identical_results(amorphous: Atoms) -> None:
    desc = Bispectrum(twojmax=8, radii={"Si": 2.35}, bzero=True)
    one = desc.compute(amorphous, n_threads=1)
    two = desc.compute(amorphous, n_threads=2)
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-12)


def test_centers_subset(amorphous: Atoms, desc: Bispectrum) -> None:
    centers = [17, 3, 3, 39]
    np.testing.assert_allclose(
        desc.compute(amorphous, centers=centers),
        desc.compute(amorphous)[centers],
        rtol=1e-12,
    )


def test_molecule_without_periodicity_is_padded() -> None:
    """pbc=False: no periodic images, whatever the (even zero) cell."""
    mol = Atoms("Si3", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.4, 0.2]])
    big = mol.copy()
    big.cell = 100 * np.eye(3)
    big.pbc = True
    desc = Bispectrum(twojmax=6)
    np.testing.assert_allclose(desc.compute(mol), desc.compute(big), rtol=1e-12)


def test_multiscale_stacks_members(amorphous: Atoms) -> None:
    ms = MultiScaleBispectrum(scales=[1.0, 1.6], twojmax=4, radii={"Si": 2.35})
    single = [Bispectrum(twojmax=4, rcutfac=f, radii={"Si": 2.35}) for f in (1.0, 1.6)]
    np.testing.assert_allclose(
        ms.compute(amorphous), np.hstack([d.compute(amorphous) for d in single])
    )
    assert len(ms.labels) == ms.n_features == 2 * single[0].n_features


def test_structure_and_ase_inputs_agree(amorphous: Atoms, desc: Bispectrum) -> None:
    np.testing.assert_array_equal(
        desc.compute(Structure.from_ase(amorphous)), desc.compute(amorphous)
    )
