"""Default element radii R_e (Å) for the bispectrum cutoff R_ij = rcutfac (R_i + R_j).

Source: the covalent radii of Cordero et al., Dalton Trans. 2008, 2832, as
tabulated in ASE (``ase.data.covalent_radii``), scaled by 2.35 / 1.11 so
that silicon keeps the radius pyolcaoml has always used, R_Si = 2.35 Å (the
Si-Si bond length of diamond silicon; 1.11 Å is Si's covalent radius):

    R_e = r_cov(e) * 2.35 / 1.11          e.g. C 1.609, O 1.397, Ge 2.541 Å

With the default rcutfac 1.0 the Si-Si cutoff is 4.70 Å (first and second
neighbour shells of diamond Si, 2.35 and 3.84 Å), C-C 3.22 Å (diamond: 1.54
and 2.52 Å) and Si-C 3.96 Å (3C-SiC: 1.89 and 3.08 Å): for any pair the
cutoff is about twice the covalent bond length. LAMMPS' SNAP potentials use
the same R_ij = rcutfac (R_i + R_j) rule with radii fitted per system, so a
fitted value should replace these where one is known.

Override per element: ``olcaoml bispectrum/convert --radius C=1.7``, or in
Python ``Bispectrum(radii=default_radii(["Si", "C"], {"C": 1.7}))``;
:data:`RADIUS_OVERRIDES` holds the values that replace the scaled covalent
radius by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Scale from a covalent radius (Å) to the bispectrum radius R_e (Å).
SCALE = 2.35 / 1.11
#: Elements whose default is not the scaled covalent radius (Å).
RADIUS_OVERRIDES: dict[str, float] = {"Si": 2.35}

__all__ = ["RADIUS_OVERRIDES", "SCALE", "default_radii", "default_radius"]


def default_radius(symbol: str) -> float:
    """R_e in Å for an element symbol (ValueError for an unknown symbol)."""
    if symbol in RADIUS_OVERRIDES:
        return RADIUS_OVERRIDES[symbol]
    from ase.data import atomic_numbers, covalent_radii

    if symbol not in atomic_numbers:
        raise ValueError(f"radius: unknown element {symbol!r}")
    return round(float(covalent_radii[atomic_numbers[symbol]]) * SCALE, 3)


def default_radii(
    symbols: Iterable[str], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """{element: R_e (Å)} for the elements given (in sorted order), with
    ``overrides`` (e.g. from --radius) replacing or adding values."""
    radii = {s: default_radius(s) for s in sorted(set(symbols))}
    radii.update(overrides or {})
    return radii
