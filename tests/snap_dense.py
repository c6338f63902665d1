"""A slow, independent bispectrum in plain NumPy: the test oracle.

Written from the conventions of the LAMMPS reference README only, with none
of the Fortran core's tricks (no half matrices, no blocking, no lookup
tables): full complex U^j matrices, Clebsch-Gordan coefficients from SymPy,
and Z for *every* triple (j1, j2, j), also the ones the core never outputs,
so that the permutation symmetry of B can be checked.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from sympy import Rational
from sympy.physics.quantum.cg import CG


@cache
def cg(tj1: int, tj2: int, tj: int, m1: int, m2: int) -> float:
    """<j1 m1 j2 m2 | j m1+m2> with doubled momenta and ladder indices."""
    j1, j2, j = Rational(tj1, 2), Rational(tj2, 2), Rational(tj, 2)
    mm1, mm2 = m1 - j1, m2 - j2
    if abs(mm1 + mm2) > j:
        return 0.0
    return float(CG(j1, mm1, j2, mm2, j, mm1 + mm2).doit())


def wigner_u(r: np.ndarray, rcut: float, rfac0: float, rmin0: float, tjm: int):
    """List of full (j+1)x(j+1) complex matrices U^j, j = 0..tjm."""
    x, y, z = r
    rr = np.sqrt(r @ r)
    theta0 = rfac0 * np.pi * (rr - rmin0) / (rcut - rmin0)
    z0 = rr / np.tan(theta0)
    r0 = np.sqrt(rr * rr + z0 * z0)
    a = complex(z0, -z) / r0
    b = complex(y, -x) / r0
    us = [np.ones((1, 1), dtype=complex)]
    for j in range(1, tjm + 1):
        prev = us[-1]
        u = np.zeros((j + 1, j + 1), dtype=complex)
        for mb in range(j // 2 + 1):
            for ma in range(j + 1):
                v = 0j
                if ma < j:
                    v += np.sqrt((j - ma) / (j - mb)) * np.conj(a) * prev[mb, ma]
                if ma > 0:
                    v -= np.sqrt(ma / (j - mb)) * np.conj(b) * prev[mb, ma - 1]
                u[mb, ma] = v
        for mb in range(j // 2 + 1, j + 1):
            for ma in range(j + 1):
                u[mb, ma] = (-1) ** (mb - ma) * np.conj(u[j - mb, j - ma])
        us.append(u)
    return us


def density(neighbours, tjm, rfac0=0.99363, rmin0=0.0, switch=True):
    """u^j = I + sum f_c w U^j over (vector, cutoff, weight) triples."""
    u = [np.eye(j + 1, dtype=complex) for j in range(tjm + 1)]
    for r, rcut, w in neighbours:
        rr = np.sqrt(r @ r)
        fc = 1.0
        if switch and rr > rmin0:
            fc = 0.5 * (np.cos(np.pi * (rr - rmin0) / (rcut - rmin0)) + 1)
        for j, uj in enumerate(wigner_u(r, rcut, rfac0, rmin0, tjm)):
            u[j] += fc * w * uj
    return u


def bispectrum_component(u, tj1: int, tj2: int, tj: int) -> float:
    """B_{j1 j2 j} = sum Re(conj(u^j) Z^{j1 j2 j}), full sums."""
    z = np.zeros((tj + 1, tj + 1), dtype=complex)
    for mb in range(tj + 1):
        for ma in range(tj + 1):
            acc = 0j
            for mb1 in range(tj1 + 1):
                mb2 = mb - mb1 + (tj1 + tj2 - tj) // 2
                if not 0 <= mb2 <= tj2:
                    continue
                cb = cg(tj1, tj2, tj, mb1, mb2)
                if cb == 0.0:
                    continue
                for ma1 in range(tj1 + 1):
                    ma2 = ma - ma1 + (tj1 + tj2 - tj) // 2
                    if not 0 <= ma2 <= tj2:
                        continue
                    ca = cg(tj1, tj2, tj, ma1, ma2)
                    acc += cb * ca * u[tj1][mb1, ma1] * u[tj2][mb2, ma2]
            z[mb, ma] = acc
    return float(np.real(np.sum(np.conj(u[tj]) * z)))


def all_triples(tjm: int):
    """Every coupling-allowed (j1, j2, j), in no particular order."""
    for j1 in range(tjm + 1):
        for j2 in range(tjm + 1):
            for j in range(abs(j1 - j2), min(tjm, j1 + j2) + 1, 2):
                yield j1, j2, j


def kept_triples(tjm: int):
    """LAMMPS order, written from the reference README."""
    out = []
    for j1 in range(tjm + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(tjm, j1 + j2) + 1, 2):
                if j >= j1:
                    out.append((j1, j2, j))
    return out
