"""Fortran Ew.d / ESw.d / Iw formatting against gfortran's output."""

from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyolcaoml.olcao.fortran_format import (
    format_e,
    format_es,
    format_i,
    parse_fortran_real,
)

# Expected strings below were printed by gfortran 12 (write with the same
# descriptors); ties are exact binary halves (0.125, 0.375).
CASES_E = [
    (-1.337080128, 16, 10, "-.1337080128E+01"),  # leading zero dropped
    (-1.337080128, 17, 10, "-0.1337080128E+01"),
    (0.3016270066, 16, 10, "0.3016270066E+00"),
    (1.0e6, 17, 10, " 0.1000000000E+07"),
    (0.0, 13, 6, " 0.000000E+00"),
    (-0.0, 13, 6, "-0.000000E+00"),  # negative zero keeps its sign
    (-0.0, 12, 6, "-.000000E+00"),
    (0.125, 9, 2, " 0.12E+00"),  # tie: round half to even
    (0.375, 9, 2, " 0.38E+00"),
    (0.375, 8, 1, " 0.4E+00"),
    (0.9999999, 9, 2, " 0.10E+01"),  # rounding carries into the exponent
    (1e100, 17, 10, " 0.1000000000+101"),  # 3-digit exponent: no 'E'
    (1e-100, 13, 6, " 0.100000E-99"),
    (1.0, 6, 2, "******"),  # does not fit
]


@pytest.mark.parametrize(("x", "w", "d", "expected"), CASES_E)
def test_format_e(x: float, w: int, d: int, expected: str) -> None:
    assert format_e(x, w, d) == expected


@pytest.mark.parametrize(
    ("x", "w", "d", "expected"),
    [
        (0.125, 12, 4, "  1.2500E-01"),
        (-0.125, 12, 4, " -1.2500E-01"),
        (0.375, 9, 2, " 3.75E-01"),
        (1e100, 12, 4, "  1.0000+100"),
        (0.0, 9, 2, " 0.00E+00"),
        (-123456.0, 8, 2, "********"),
    ],
)
def test_format_es(x: float, w: int, d: int, expected: str) -> None:
    assert format_es(x, w, d) == expected


def test_format_i() -> None:
    assert format_i(16, 5) == "   16"
    assert format_i(-3, 2) == "-3"
    assert format_i(123456, 5) == "*****"


def test_non_finite_like_gfortran() -> None:
    assert format_e(math.inf, 17, 10) == "         Infinity"
    assert format_e(-math.inf, 8, 1) == "    -Inf"
    assert format_e(math.nan, 13, 6) == "          NaN"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-.1337080128E+01", -1.337080128),
        ("0.15D+00", 0.15),
        ("1.000000e+06", 1e6),
        ("0.1000000000+101", 1e100),
        ("0.100000-099", 1e-100),
        ("14", 14.0),
    ],
)
def test_parse_fortran_real(text: str, value: float) -> None:
    assert parse_fortran_real(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["", "abc", "1.0E", "NaN", "Infinity", "1..0"])
def test_parse_fortran_real_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fortran_real(text)


FORMAT_PROGRAM = """\
program fmt
   implicit none
   integer, parameter :: double = kind(0.0d0)
   real (kind=double) :: x
   integer :: ios
   do
      read (*,*,iostat=ios) x
      if (ios /= 0) exit
      write (*,'(e17.10,"|",e16.10,"|",e13.6,"|",e12.6,"|",es12.4,"|",e9.2)') &
         & x, x, x, x, x, x
   enddo
end program fmt
"""


@pytest.mark.skipif(shutil.which("gfortran") is None, reason="gfortran not installed")
def test_matches_gfortran_on_random_values(tmp_path) -> None:
    source = tmp_path / "fmt.f90"
    source.write_text(FORMAT_PROGRAM)
    exe = tmp_path / "fmt"
    subprocess.run(["gfortran", str(source), "-o", str(exe)], check=True)
    rng = random.Random(20240611)
    values = [0.0, -0.0, 5e-324, -1.7e308, 9.99999999995e99, 0.999999995]
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.4:
            v = rng.uniform(-100.0, 100.0)
        elif kind < 0.7:
            v = rng.choice([-1, 1]) * 10 ** rng.uniform(-320, 308)
        else:
            v = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(v):
            values.append(v)
    out = subprocess.run(
        [str(exe)],
        input="\n".join(repr(v) for v in values) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == len(values)
    specs = [("e", 17, 10), ("e", 16, 10), ("e", 13, 6), ("e", 12, 6), ("es", 12, 4)]
    specs.append(("e", 9, 2))
    for v, line in zip(values, out, strict=True):
        mine = "|".join(
            (format_e if k == "e" else format_es)(v, w, d) for k, w, d in specs
        )
        assert mine == line, repr(v)


_NUMBER_CHARS = "0123456789.eEdDqQ+- \t_xnaif"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=_NUMBER_CHARS, min_size=1, max_size=9),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.floats(allow_nan=False, allow_infinity=False).map(
                lambda x: f"{x:.6E}".replace("E", "D")
            ),
            st.sampled_from(["0.1234+100", "-.5-101", "1e999", "1.", ".5", "+1"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_line_reader_floats_are_parse_fortran_real(tokens: list[str]) -> None:
    """LineReader.parse_floats reads plain decimal lines with float() (its
    fast path): on any line, the same values as parse_fortran_real field by
    field, or an error where that refuses a field."""
    from pyolcaoml.olcao._lines import LineReader
    from pyolcaoml.olcao.errors import OlcaoFormatError

    line = " ".join(tokens)
    fields = line.split()
    try:
        want = [parse_fortran_real(f) for f in fields]
    except ValueError:
        want = None
    reader = LineReader([line], "f.dat")
    if want is None:
        with pytest.raises(OlcaoFormatError, match="f.dat"):
            reader.parse_floats(line, None, "numbers")
    else:
        got = reader.parse_floats(line, None, "numbers")
        assert [x.hex() for x in got] == [x.hex() for x in want]
