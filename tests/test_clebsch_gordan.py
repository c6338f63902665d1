"""Clebsch-Gordan coefficients of the core: SymPy values and orthonormality."""

from __future__ import annotations

import numpy as np
import pytest
from snap_dense import cg as sympy_cg

from pyolcaoml._fortran import core


def fortran_cg(tj1: int, tj2: int, tj: int, m1: int, m2: int) -> float:
    return float(core().oml_clebsch_gordan(tj1, tj2, tj, m1, m2))


@pytest.mark.parametrize("tjm", [4, 7])
def test_against_sympy(tjm: int) -> None:
    for tj1 in range(tjm + 1):
        for tj2 in range(tjm + 1):
            for tj in range(abs(tj1 - tj2), tj1 + tj2 + 1, 2):
                for m1 in range(tj1 + 1):
                    for m2 in range(tj2 + 1):
                        assert fortran_cg(tj1, tj2, tj, m1, m2) == pytest.approx(
                            sympy_cg(tj1, tj2, tj, m1, m2), abs=1e-14
                        )


def test_orthonormal_up_to_the_largest_twojmax() -> None:
    """sum_{m1,m2} C(j1 m1 j2 m2|j m) C(j1 m1 j2 m2|j' m) = delta_jj' at 2j=20."""
    top = int(core().oml_max_twojmax())
    for tj1, tj2 in [(top, top), (top, top - 1), (top - 3, 5), (17, 12)]:
        js = list(range(abs(tj1 - tj2), tj1 + tj2 + 1, 2))
        for tm in range(-min(js), min(js) + 1, 2):  # 2m, common to all j here
            rows = []
            for tj in js:
                row = []
                for m1 in range(tj1 + 1):
                    m2 = (tm + tj1 + tj2) // 2 - m1
                    row.append(
                        fortran_cg(tj1, tj2, tj, m1, m2) if 0 <= m2 <= tj2 else 0.0
                    )
                rows.append(row)
            c = np.array(rows)
            np.testing.assert_allclose(c @ c.T, np.eye(len(js)), atol=1e-12)
