"""OLCAO's element database (atomicPDB/<element>/pot1 and coeff1).

``pot1`` holds the element's Gaussian potential basis (same keys as the
potential block of olcao.dat); ``coeff1`` the isolated-atom potential, a term
count followed by rows in the 5-column scfV format. OLCAO's default SCF start
is the superposition of these atomic potentials.

Copies for the elements in :func:`bundled_elements` ship inside the package
(``pyolcaoml/olcao/atomicpdb/<element>/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

from pyolcaoml.olcao._lines import LineReader, read_text
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.olcao.olcao_dat import PotentialParameters, read_potential_parameters
from pyolcaoml.olcao.scfv import ScfVBlock, read_block
from pyolcaoml.structure import _canonical_symbol

__all__ = [
    "AtomicPotential",
    "bundled_elements",
    "isolated_atom_potential",
    "load_atomic_potential",
    "parse_coeff1",
    "parse_pot1",
    "read_atomic_potential",
    "read_coeff1",
    "read_pot1",
]

_DATA_DIR = "atomicpdb"


def parse_pot1(
    text: str, path: str | os.PathLike[str] | None = None
) -> PotentialParameters:
    """Parse the text of a pot1 file (``path`` names it in errors)."""
    reader = LineReader(text.splitlines(), path)
    params = read_potential_parameters(reader)
    _expect_end(reader)
    return params


def parse_coeff1(text: str, path: str | os.PathLike[str] | None = None) -> ScfVBlock:
    """Parse the text of a coeff1 file (count line, then 5-column rows)."""
    reader = LineReader(text.splitlines(), path)
    block = read_block(reader, "the isolated atom")
    _expect_end(reader)
    return block


def read_pot1(path: str | os.PathLike[str]) -> PotentialParameters:
    """Read an atomicPDB pot1 file."""
    return parse_pot1(read_text(path), path)


def read_coeff1(path: str | os.PathLike[str]) -> ScfVBlock:
    """Read an atomicPDB coeff1 file (count line, then 5-column rows)."""
    return parse_coeff1(read_text(path), path)


def _expect_end(reader: LineReader) -> None:
    while not reader.at_end:
        line = reader.next()
        if line.strip():
            raise reader.error(f"unexpected text {line.strip()!r}")


@dataclass(frozen=True)
class AtomicPotential:
    """One element's atomicPDB entry.

    params: the potential basis (pot1); block: the isolated-atom potential
    (coeff1), A_i in Hartree with alpha_i in Bohr⁻².
    """

    element: str
    params: PotentialParameters
    block: ScfVBlock

    @property
    def alphas(self) -> np.ndarray:
        """Exponents in Bohr⁻² from pot1 (geometric series)."""
        return self.params.alphas

    @property
    def coeffs(self) -> np.ndarray:
        """Isolated-atom A_i in Hartree (coeff1 column 1)."""
        return self.block.coeffs


def read_atomic_potential(
    directory: str | os.PathLike[str], element: str | None = None
) -> AtomicPotential:
    """Read ``directory/pot1`` and ``directory/coeff1`` and check that they
    agree (term count; exponents of coeff1 column 2 against pot1)."""
    directory = os.fspath(directory)
    pot1 = os.path.join(directory, "pot1")
    coeff1 = os.path.join(directory, "coeff1")
    params = read_pot1(pot1)
    block = read_coeff1(coeff1)
    _check_agree(params, block, pot1, coeff1)
    name = element or os.path.basename(os.path.normpath(directory))
    return AtomicPotential(_canonical_symbol(name), params, block)


def _check_agree(
    params: PotentialParameters, block: ScfVBlock, pot1: str, coeff1: str
) -> None:
    if len(block) != params.n_alphas:
        raise OlcaoFormatError(
            f"{len(block)} terms, but {pot1} has NUM_ALPHAS {params.n_alphas}", coeff1
        )
    if not np.allclose(block.alphas, params.alphas, rtol=1e-8, atol=0):
        raise OlcaoFormatError(
            f"exponents (column 2) differ from the ALPHAS of {pot1}", coeff1
        )


def bundled_elements() -> tuple[str, ...]:
    """Element symbols whose atomicPDB entry ships with pyolcaoml."""
    root = resources.files("pyolcaoml.olcao").joinpath(_DATA_DIR)
    names = [
        _canonical_symbol(p.name)
        for p in root.iterdir()
        if p.is_dir() and p.joinpath("pot1").is_file()
    ]
    return tuple(sorted(names))


def load_atomic_potential(element: str) -> AtomicPotential:
    """The bundled atomicPDB entry of ``element`` ('Si', 'si', 'si1' ...)."""
    symbol = _canonical_symbol(element)
    entry = (
        resources.files("pyolcaoml.olcao").joinpath(_DATA_DIR).joinpath(symbol.lower())
    )
    if not entry.joinpath("pot1").is_file():
        raise KeyError(
            f"no atomicPDB entry bundled for element {symbol!r}; bundled: "
            + ", ".join(bundled_elements())
        )
    # Read through importlib.resources (works from wheels and editable
    # installs); errors name the packaged path.
    where = f"pyolcaoml/olcao/{_DATA_DIR}/{symbol.lower()}"
    pot1, coeff1 = f"{where}/pot1", f"{where}/coeff1"
    params = parse_pot1(entry.joinpath("pot1").read_text(encoding="utf-8"), pot1)
    block = parse_coeff1(entry.joinpath("coeff1").read_text(encoding="utf-8"), coeff1)
    _check_agree(params, block, pot1, coeff1)
    return AtomicPotential(symbol, params, block)


def isolated_atom_potential(element: str) -> tuple[np.ndarray, np.ndarray]:
    """(alphas in Bohr⁻², A_i in Hartree) of the isolated atom of ``element``,
    OLCAO's default starting potential. ``KeyError`` for an element that is
    not bundled."""
    pot = load_atomic_potential(element)
    return pot.alphas.copy(), pot.coeffs.copy()
