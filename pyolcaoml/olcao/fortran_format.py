"""Fortran edit descriptors Ew.d, ESw.d and Iw, as gfortran writes them.

OLCAO writes its files with formatted Fortran I/O. To reproduce those files
byte for byte, numbers are formatted here with the same rules:

``Ew.d``
    ``[-]0.d1d2...ddE+ee``: a mantissa in [0.1, 1) with ``d`` digits, rounded
    to nearest (the exact binary value, ties to even, as gfortran's default
    rounding does), a two-digit exponent ``E±ee``, or ``±eee`` without the
    letter when 99 < |exponent| <= 999. The optional leading ``0`` is left out
    when the field is one character too narrow for it (``E16.10`` of
    -1.337 is ``-.1337000000E+01``). Negative zero keeps its sign
    (``-0.000000E+00``), as gfortran does by default (``-fsign-zero``).
    A value that does not fit the field is written as ``w`` asterisks.
``ESw.d``
    ``[-]d.d1...ddE+ee``: scientific form, one non-zero digit before the point.
``Iw``
    right-justified integer, asterisks when it does not fit.

Non-finite values are written as gfortran writes them (``NaN``, ``Infinity``,
``-Inf`` ... right-justified); readers of OLCAO files reject them.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "format_e",
    "format_es",
    "format_i",
    "parse_fortran_real",
]


def _exponent_field(exponent: int) -> str | None:
    """Fortran's exponent part for Ew.d / ESw.d without an Ee part."""
    sign = "-" if exponent < 0 else "+"
    mag = abs(exponent)
    if mag <= 99:
        return f"E{sign}{mag:02d}"
    if mag <= 999:
        return f"{sign}{mag:03d}"
    return None


def _non_finite(x: float, w: int) -> str:
    if math.isnan(x):
        text = "NaN"
    elif w >= 9 or (w == 8 and x > 0):
        text = "-Infinity" if x < 0 else "Infinity"
    else:
        text = "-Inf" if x < 0 else "Inf"
    return text.rjust(w) if len(text) <= w else "*" * w


def _is_negative(x: float) -> bool:
    return math.copysign(1.0, x) < 0


def _check_widths(w: int, d: int) -> None:
    if d < 1 or w < 1:
        raise ValueError(f"invalid Fortran edit descriptor width {w}, digits {d}")


def format_e(x: float, w: int, d: int) -> str:
    """Format ``x`` with the Fortran edit descriptor ``Ew.d``."""
    _check_widths(w, d)
    x = float(x)
    if not math.isfinite(x):
        return _non_finite(x, w)
    sign = "-" if _is_negative(x) else ""
    if x == 0.0:
        digits, exponent = "0" * d, 0
    else:
        # d significant digits, correctly rounded: 'D.DDDe+XX'.
        text = f"{abs(x):.{d - 1}e}"
        mantissa, _, exp10 = text.partition("e")
        digits = mantissa.replace(".", "")
        exponent = int(exp10) + 1
    exp_field = _exponent_field(exponent)
    if exp_field is None:
        return "*" * w
    body = f"{sign}0.{digits}{exp_field}"
    if len(body) > w:
        body = f"{sign}.{digits}{exp_field}"  # the leading zero is optional
    if len(body) > w:
        return "*" * w
    return body.rjust(w)


def format_es(x: float, w: int, d: int) -> str:
    """Format ``x`` with the Fortran edit descriptor ``ESw.d``."""
    _check_widths(w, d)
    x = float(x)
    if not math.isfinite(x):
        return _non_finite(x, w)
    sign = "-" if _is_negative(x) else ""
    if x == 0.0:
        mantissa, exponent = "0." + "0" * d, 0
    else:
        text = f"{abs(x):.{d}e}"
        mantissa, _, exp10 = text.partition("e")
        exponent = int(exp10)
    exp_field = _exponent_field(exponent)
    if exp_field is None:
        return "*" * w
    body = f"{sign}{mantissa}{exp_field}"
    if len(body) > w:
        return "*" * w
    return body.rjust(w)


def format_i(n: int, w: int) -> str:
    """Format the integer ``n`` with the Fortran edit descriptor ``Iw``."""
    text = str(int(n))
    return text.rjust(w) if len(text) <= w else "*" * w


# A Fortran real: optional sign, digits with an optional point, then an
# optional exponent that is either a letter (E, D, Q) with an optional sign,
# or a bare sign (the form Ew.d takes for 3-digit exponents).
_FORTRAN_REAL = re.compile(
    r"""^\s*(?P<mant>[+-]?(?:\d+\.?\d*|\.\d+))
        (?:(?:[EeDdQq](?P<e1>[+-]?\d+))|(?P<e2>[+-]\d+))?\s*$""",
    re.VERBOSE,
)


def parse_fortran_real(text: str) -> float:
    """Parse a number as Fortran list-directed/E input does.

    Accepts ``-.1337E+01``, ``0.15D+00``, ``1e6``, ``0.1234+100`` (the
    3-digit exponent form of Ew.d). Non-finite values and anything else raise
    ``ValueError``.
    """
    match = _FORTRAN_REAL.match(text)
    if match is None:
        raise ValueError(f"not a Fortran real number: {text!r}")
    exponent = match.group("e1") or match.group("e2")
    value = float(match.group("mant") + (f"e{exponent}" if exponent else ""))
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text!r}")
    return value
