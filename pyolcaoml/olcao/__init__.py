"""Readers and writers of OLCAO's files, and whole OLCAO run directories.

Units follow each file: olcao.skl is in Å and degrees; structure.dat,
scfV.dat and olcao.dat are in Bohr (exponents in Bohr⁻²) and Hartree.
Objects convert to :class:`pyolcaoml.structure.Structure` (Å).

- :mod:`~pyolcaoml.olcao.skeleton`: olcao.skl (read, write from any structure)
- :mod:`~pyolcaoml.olcao.structure_dat`: inputs/structure.dat (read)
- :mod:`~pyolcaoml.olcao.olcao_dat`: potential section of olcao.dat (read)
- :mod:`~pyolcaoml.olcao.scfv`: scfV.dat / gs_scfV-*.dat (read, write byte-exact)
- :mod:`~pyolcaoml.olcao.iterations`: gs_iter-*.dat SCF log (read)
- :mod:`~pyolcaoml.olcao.atomic_pdb`: atomicPDB pot1/coeff1, bundled Si and C
- :mod:`~pyolcaoml.olcao.run`: a whole run directory, with consistency checks
- :mod:`~pyolcaoml.olcao.fortran_format`: Fortran Ew.d / ESw.d / Iw formatting
"""

from __future__ import annotations

from pyolcaoml.olcao.atomic_pdb import (
    AtomicPotential,
    bundled_elements,
    isolated_atom_potential,
    load_atomic_potential,
    read_atomic_potential,
    read_coeff1,
    read_pot1,
)
from pyolcaoml.olcao.errors import OlcaoFormatError
from pyolcaoml.olcao.iterations import ScfHistory, read_iterations
from pyolcaoml.olcao.olcao_dat import (
    OlcaoDat,
    PotentialParameters,
    PotentialType,
    geometric_alphas,
    read_olcao_dat,
)
from pyolcaoml.olcao.run import OlcaoRun, find_run_dirs, read_run
from pyolcaoml.olcao.scfv import (
    MAKEINPUT_STYLE,
    OLCAO_STYLE,
    ScfV,
    ScfVBlock,
    ScfVStyle,
    format_scfv,
    parse_scfv,
    read_scfv,
    write_scfv,
)
from pyolcaoml.olcao.skeleton import (
    Skeleton,
    format_skeleton,
    read_skeleton,
    read_skeleton_file,
    write_skeleton,
)
from pyolcaoml.olcao.structure_dat import StructureDat, read_structure_dat

__all__ = [
    "MAKEINPUT_STYLE",
    "OLCAO_STYLE",
    "AtomicPotential",
    "OlcaoDat",
    "OlcaoFormatError",
    "OlcaoRun",
    "PotentialParameters",
    "PotentialType",
    "ScfHistory",
    "ScfV",
    "ScfVBlock",
    "ScfVStyle",
    "Skeleton",
    "StructureDat",
    "bundled_elements",
    "find_run_dirs",
    "format_scfv",
    "format_skeleton",
    "geometric_alphas",
    "isolated_atom_potential",
    "load_atomic_potential",
    "parse_scfv",
    "read_atomic_potential",
    "read_coeff1",
    "read_iterations",
    "read_olcao_dat",
    "read_pot1",
    "read_run",
    "read_scfv",
    "read_skeleton",
    "read_skeleton_file",
    "read_structure_dat",
    "write_scfv",
    "write_skeleton",
]
