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

import numpy as np

__all__ = [
    "format_e",
    "format_e_array",
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


def format_e_array(values, w: int, d: int) -> np.ndarray:
    """``Ew.d`` of many numbers at once: an (n, w) array of ASCII bytes.

    Same text as :func:`format_e` for every value (it is the reference, and
    is used here for the rare values the fast path does not handle:
    non-finite, exponents beyond +-99, fields too narrow). The fast path
    formats all magnitudes in one C-level ``%`` call with ``d`` significant
    digits (correctly rounded, like gfortran), then moves the digits into
    Fortran's ``0.ddd...E+ee`` layout with array operations, so a million
    numbers take a fraction of a second instead of seconds.
    """
    _check_widths(w, d)
    x = np.ascontiguousarray(values, dtype=np.float64).ravel()
    n = x.size
    out = np.full((n, w), ord(" "), dtype=np.uint8)
    if n == 0:
        return out
    mag = np.abs(x)
    slow = ~np.isfinite(mag) | (mag >= 1e99) | ((mag < 1e-99) & (mag != 0.0))
    mag = np.where(slow, 0.0, mag)
    if d <= 12:
        digits, exponent = _digits_numeric(mag, d, slow)
    else:
        digits, exponent = _digits_printf(mag, d)
    slow |= np.abs(exponent) > 99  # 9.99...e98 rounds up to 0.1E+100
    # Every row ends in '.ddd...E+ee' (d + 5 characters); before the point
    # comes '0' (positive), '-0' (negative), or without the optional zero
    # ('', '-') when the field is too narrow, right-justified with blanks.
    neg = np.signbit(x)
    tail = d + 5
    if tail > w or (tail == w and neg.any()):
        slow |= neg if tail == w else True  # asterisks: left to format_e
    if tail <= w:
        out[:, w - tail] = ord(".")
        out[:, w - tail + 1 : w - 4] = digits
        out[:, w - 4] = ord("E")
        out[:, w - 3] = np.where(exponent < 0, ord("-"), ord("+"))
        e = np.abs(exponent)
        out[:, w - 2] = 48 + e // 10
        out[:, w - 1] = 48 + e % 10
        room = w - tail  # characters before the point
        if room >= 2:  # '0' for all, '-' before it for negatives
            out[:, w - tail - 1] = ord("0")
            out[:, w - tail - 2] = np.where(neg, ord("-"), ord(" "))
        elif room == 1:  # '0' for positives, '-' (no zero) for negatives
            out[:, w - tail - 1] = np.where(neg, ord("-"), ord("0"))
    for i in np.nonzero(slow)[0]:
        out[i] = np.frombuffer(format_e(x[i], w, d).encode("ascii"), dtype=np.uint8)
    return out


def _digits_numeric(
    mag: np.ndarray, d: int, slow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) ASCII digits and exponents (value = 0.digits x 10^exponent) of
    magnitudes by float arithmetic; marks near-ties in ``slow``."""
    nonzero = mag > 0.0
    safe = np.where(nonzero, mag, 1.0)
    exponent = np.floor(np.log10(safe)).astype(np.int64) + 1
    mant = safe / np.power(10.0, exponent)
    high, low = mant >= 1.0, mant < 0.1  # log10 rounding at the edges
    exponent += high.astype(np.int64) - low.astype(np.int64)
    mant = np.where(high, mant / 10.0, np.where(low, mant * 10.0, mant))
    scaled = mant * 10.0**d
    q = np.floor(scaled)
    frac = scaled - q
    slow |= nonzero & (np.abs(frac - 0.5) < 1e-4)  # too close to call
    q = (q + (frac > 0.5)).astype(np.int64)
    carry = q >= 10**d  # 0.99...95 -> 0.10...0 x 10
    q = np.where(carry, 10 ** (d - 1), q)
    exponent = np.where(nonzero, exponent + carry, 0)
    q = np.where(nonzero, q, 0)
    digits = np.empty((mag.size, d), dtype=np.uint8)
    for k in range(d - 1, -1, -1):
        digits[:, k] = 48 + q % 10
        q //= 10
    return digits, exponent


def _digits_printf(mag: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_digits_numeric`, from one C-level ``%.{d-1}e`` call."""
    n = mag.size
    text = (f"%.{d - 1}e" * n) % tuple(mag.tolist())
    raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(n, d + 5)
    exp10 = (raw[:, d + 3].astype(np.int64) - 48) * 10 + (raw[:, d + 4] - 48)
    exp10 = np.where(raw[:, d + 2] == ord("-"), -exp10, exp10)
    exponent = np.where(mag != 0.0, exp10 + 1, 0)
    digits = np.concatenate([raw[:, :1], raw[:, 2 : d + 1]], axis=1)
    return digits, exponent


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
