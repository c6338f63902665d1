"""Amorphous structures go to the bundled a-Si model (stop 29).

No single Si model has been good at both: every training set heavy in
amorphous cells made a-Si 25-40 % better in V(r) and the crystalline and
point-defect cells 12-28 % worse (docs/model.md, stops 17-28). So the
package ships two Si models, the default one and ``asi`` (trained with 30
amorphous cells more), and the default model decides which one predicts a
structure from its own ensemble spread: sigma, each atom's predicted RMS
V(r) error (Hartree), is small where the default model has seen such
environments and large where it has not.

With the default model of stop 30 (T6), the median sigma per structure
is 0.52-4.97 mHa over the 65 spent crystalline and point-defect test
cells of ``data/scf_test_runs`` (the highest, 4.97, a crystal rattled by
0.20 Angstrom) and 7.14-11.39 mHa over all fourteen spent amorphous
cells (32 and 64 atoms). A structure whose median sigma over its Si
atoms exceeds the threshold (6 mHa, mid-gap, chosen on those spent cells
in stop 31; since stop 33 the model's own, below) is handed to ``asi``. The median,
not the mean or the maximum, so that a crystal with a few odd atoms (a
vacancy's neighbours) stays with the model that is better for the crystal.
The default model of stop 32 (T7) trains on most of those spent cells; on
cells it never saw its median sigma is 0.35-2.12 mHa over the nine fresh
crystalline and defect cells of stop 32 and 7.77-8.87 mHa over three
fresh 32-atom a-Si cells.

The threshold belongs to the default model: its sigma is calibrated on
out-of-bag atoms when it is trained, and that calibration moves with the
training data (stop 33: candidate T8's factor fell from 2.88 to 2.23 and
took two fresh a-Si32 cells below 6 mHa). So a default model records its
own threshold in model.json (``"handover": {"median_sigma_hartree": ...}``,
chosen mid-gap by ``data/make_default_model.py``: :func:`mid_gap`) and
:func:`threshold_of` reads it; a model without one uses the package's
:data:`HANDOVER_MEDIAN_SIGMA_HARTREE`.

Only a model left unnamed is handed over (``olcaoml predict STRUCTURE``,
``olcaoml predict IN... -o OUT`` per structure, ``pyolcaoml.predict(atoms)``):
naming ``default`` (or any path) keeps it.
Naming ``default`` for a structure that it would have handed over gets a
note saying so (:func:`kept_default_note`): on the 13 spent a-Si32 cells
the default model's RMS V(r) is 4.25 mHa (T8b, stop 33; T7 5.26) against
``asi``'s 2.37.
The Fortran library predicts with the model it is given; it returns the
same sigma, so a caller can apply the same rule.

Amorphous SiC (stop 36) goes to the bundled amorphous SiC model ``sicam``
(the ``sic`` recipe trained on amorphous SiC cells only). The ``sic``
model's sigma does not tell amorphous SiC apart (stop 31: 5.58-8.11 mHa on
amorphous cells it never saw, 3.45-6.33 on rattled and point-defect ones),
but its applicability distance does (:mod:`pyolcaoml.model.applicability`:
each atom's descriptor distance to the nearest training atom over the
model's threshold): its median over a structure's atoms is 0.09-0.56 on
the 35 rattled and point-defect SiC test cells it never trained on and
0.82-1.13 on the 19 amorphous ones (stop 35). The ``sic`` model records
the midpoint, 0.69, as ``"handover": {"median_domain": 0.69}``
(:func:`domain_threshold_of`); a structure with C whose median distance
exceeds it goes to ``sicam``. The library does not return the distance,
so this rule is the Python package's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

#: The bundled model that amorphous structures are handed to.
AMORPHOUS_MODEL = "asi"
#: A structure goes to :data:`AMORPHOUS_MODEL` when the default model's
#: median sigma over its Si atoms exceeds this (Hartree), unless the model
#: records its own threshold (:func:`threshold_of`).
HANDOVER_MEDIAN_SIGMA_HARTREE = 6.0e-3
#: The element the rule is about (the a-Si model knows Si only).
ELEMENT = "Si"
#: The bundled model that amorphous SiC is handed to (stop 36), by the
#: ``sic`` model's recorded median applicability distance.
SIC_AMORPHOUS_MODEL = "sicam"
#: The element whose presence makes a structure SiC for that rule.
SIC_ELEMENT = "C"


def threshold_of(model) -> float:
    """The handover threshold (Hartree) that ``model`` records, else the
    package's :data:`HANDOVER_MEDIAN_SIGMA_HARTREE`."""
    entry = getattr(model, "handover", None) or {}
    return float(entry.get("median_sigma_hartree", HANDOVER_MEDIAN_SIGMA_HARTREE))


def domain_threshold_of(model) -> float | None:
    """The median applicability distance above which ``model`` hands a
    structure with C to :data:`SIC_AMORPHOUS_MODEL` (model.json's
    ``handover.median_domain``), or None when it records none."""
    entry = getattr(model, "handover", None) or {}
    value = entry.get("median_domain")
    return None if value is None else float(value)


def median_domain(domain: np.ndarray | None) -> float:
    """Median applicability distance over a structure's atoms (NaN when
    there is none)."""
    if domain is None:
        return float("nan")
    d = np.asarray(domain, dtype=np.float64)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else float("nan")


def wants_sic_handover(
    symbols: Sequence[str], domain: np.ndarray | None, threshold: float
) -> bool:
    """True when a structure with C is amorphous by the Si + C model's
    applicability distance (its median over the atoms above ``threshold``)."""
    if SIC_ELEMENT not in set(symbols):
        return False
    if domain is not None and len(domain) != len(symbols):
        raise ValueError(f"{len(domain)} distances for {len(symbols)} atoms")
    m = median_domain(domain)
    return bool(np.isfinite(m) and m > threshold)


def mid_gap(crystalline: Sequence[float], amorphous: Sequence[float]) -> float:
    """The threshold halfway between the highest median sigma of the
    crystalline and point-defect structures and the lowest of the amorphous
    ones (Hartree); ValueError when the two ranges overlap (no threshold
    separates them) or one is empty."""
    c = np.asarray(list(crystalline), dtype=np.float64)
    a = np.asarray(list(amorphous), dtype=np.float64)
    if c.size == 0 or a.size == 0:
        raise ValueError("mid_gap needs crystalline and amorphous structures")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(a))):
        raise ValueError("mid_gap: a median sigma is not finite")
    hi, lo = float(c.max()), float(a.min())
    if hi >= lo:
        raise ValueError(
            f"no gap: crystalline median sigma up to {1000 * hi:.2f} mHa, "
            f"amorphous from {1000 * lo:.2f} mHa"
        )
    return 0.5 * (hi + lo)


def median_sigma(symbols: Sequence[str], sigma: np.ndarray | None) -> float:
    """Median sigma (Hartree) over the Si atoms; NaN when there is none or
    no sigma (a single network)."""
    if sigma is None:
        return float("nan")
    s = np.asarray(sigma, dtype=np.float64)
    rows = np.asarray(list(symbols)) == ELEMENT
    if s.shape != rows.shape:
        raise ValueError(f"{len(s)} sigmas for {len(rows)} atoms")
    s = s[rows]
    s = s[np.isfinite(s)]
    return float(np.median(s)) if s.size else float("nan")


def wants_handover(
    symbols: Sequence[str],
    sigma: np.ndarray | None,
    threshold: float = HANDOVER_MEDIAN_SIGMA_HARTREE,
) -> bool:
    """True when the default model's sigma says the structure is amorphous
    (every atom Si, median sigma above ``threshold``, Hartree)."""
    symbols = list(symbols)
    if not symbols or any(s != ELEMENT for s in symbols):
        return False
    m = median_sigma(symbols, sigma)
    return bool(np.isfinite(m) and m > threshold)


def _installed(name: str) -> str | None:
    """The folder of the bundled model ``name``, or None where it is not
    installed."""
    from pyolcaoml.model.errors import ModelError
    from pyolcaoml.model.saved import bundled_model_path

    try:
        path = bundled_model_path(name)
    except ModelError:
        return None
    return path if os.path.isfile(os.path.join(path, "model.json")) else None


def amorphous_model_path() -> str | None:
    """The bundled a-Si model's folder, or None where it is not installed
    (then nothing is handed over)."""
    return _installed(AMORPHOUS_MODEL)


def sic_amorphous_model_path() -> str | None:
    """The bundled amorphous SiC model's folder, or None where it is not
    installed (then nothing is handed over to it)."""
    return _installed(SIC_AMORPHOUS_MODEL)


def _sic_clause(domain, threshold: float) -> str:
    return (
        f"the Si + C model's median applicability distance is "
        f"{median_domain(domain):.2f} (> {threshold:.3g}: amorphous SiC)"
    )


def handover_target(model, symbols, sigma, domain) -> str | None:
    """The bundled model that ``model``'s rules send the structure to, by
    name, whether installed or not: :data:`SIC_AMORPHOUS_MODEL` for a
    structure with C whose median ``domain`` exceeds ``model``'s
    :func:`domain_threshold_of` (none recorded: never),
    :data:`AMORPHOUS_MODEL` for one of Si alone whose median ``sigma``
    exceeds its :func:`threshold_of`; else None."""
    t = domain_threshold_of(model)
    if t is not None and wants_sic_handover(symbols, domain, t):
        return SIC_AMORPHOUS_MODEL
    if wants_handover(symbols, sigma, threshold_of(model)):
        return AMORPHOUS_MODEL
    return None


def _target_path(target: str | None) -> str | None:
    """The installed folder of a :func:`handover_target`, or None."""
    if target == SIC_AMORPHOUS_MODEL:
        return sic_amorphous_model_path()
    if target == AMORPHOUS_MODEL:
        return amorphous_model_path()
    return None


def note_for(model, symbols, sigma, domain) -> str:
    """The line printed when ``model`` (the bundled model the structure would
    get) hands it over: by sigma to the a-Si model, or by the applicability
    distance (``domain``, per atom) to the amorphous SiC model."""
    if handover_target(model, symbols, sigma, domain) == SIC_AMORPHOUS_MODEL:
        t = domain_threshold_of(model)
        return (
            f"{_sic_clause(domain, t)}: predicted with the bundled amorphous "
            f"SiC model '{SIC_AMORPHOUS_MODEL}' (name 'sic' as MODEL to keep "
            "the Si + C model)"
        )
    return handover_note(symbols, sigma, threshold_of(model))


def _amorphous_clause(symbols, sigma, threshold: float) -> str:
    m = median_sigma(symbols, sigma)
    return (
        f"the default model's median sigma is {1000 * m:.2f} mHa (> "
        f"{1000 * threshold:.3g} mHa: an amorphous structure)"
    )


def handover_note(
    symbols: Sequence[str],
    sigma: np.ndarray | None,
    threshold: float = HANDOVER_MEDIAN_SIGMA_HARTREE,
) -> str:
    """The line printed when a structure is handed over."""
    return (
        f"{_amorphous_clause(symbols, sigma, threshold)}: predicted with the "
        f"bundled a-Si model "
        f"'{AMORPHOUS_MODEL}' (name 'default' as MODEL to keep the default)"
    )


def is_bundled(model, name: str) -> bool:
    """Whether ``model`` (loaded) is the bundled model called ``name``."""
    from pyolcaoml.model.errors import ModelError
    from pyolcaoml.model.saved import bundled_model_path

    try:
        bundled = bundled_model_path(name)
    except ModelError:
        return False
    if model.path is None:
        return False
    return os.path.realpath(os.fspath(model.path)) == os.path.realpath(bundled)


def kept_default_note(
    model,
    symbols: Sequence[str],
    sigma: np.ndarray | None,
    domain: np.ndarray | None = None,
    named: object = None,
) -> str | None:
    """The note for a structure that the bundled default model (``model``,
    loaded), named by the user, would have handed over; None otherwise
    (another model, no a-Si model installed, or not an amorphous
    structure). The same for the bundled Si + C model named on amorphous
    SiC (``domain``: each atom's applicability distance); ``named`` is what
    the user named when it was ``"default"``, which means the Si + C model
    for a structure with C."""
    target = handover_target(model, symbols, sigma, domain)
    if _target_path(target) is None:
        return None
    if target == SIC_AMORPHOUS_MODEL and is_bundled(model, "sic"):
        t = domain_threshold_of(model)
        kept = (
            "kept 'sic', the bundled model that 'default' names for a structure with C,"
            if named == "default"
            else "kept 'sic' as named"
        )
        return (
            f"{_sic_clause(domain, t)}, where the bundled amorphous SiC model "
            f"'{SIC_AMORPHOUS_MODEL}' gives the better start; {kept} "
            f"(leave MODEL out, or name '{SIC_AMORPHOUS_MODEL}', to use it)"
        )
    if target != AMORPHOUS_MODEL or not is_bundled(model, "default"):
        return None
    return (
        f"{_amorphous_clause(symbols, sigma, threshold_of(model))}, where the bundled "
        f"a-Si model '{AMORPHOUS_MODEL}' gives "
        f"the better start; kept 'default' as named (leave MODEL out, or "
        f"name '{AMORPHOUS_MODEL}', to use it)"
    )


def amorphous_model_for(requested, model, symbols, sigma, domain=None):
    """The loaded bundled model that the structure should be handed to, else
    None. ``requested`` is the model the user named (None: none, so
    ``model`` is the bundled model the structure would get, and ``sigma``
    and ``domain`` are its per-atom sigma and applicability distance). A
    structure of Si alone goes to the a-Si model when the median ``sigma``
    exceeds ``model``'s :func:`threshold_of`; one with C goes to the
    amorphous SiC model when the median ``domain`` exceeds ``model``'s
    :func:`domain_threshold_of` (none recorded: never)."""
    if requested is not None:
        return None
    path = _target_path(handover_target(model, symbols, sigma, domain))
    if path is None:
        return None
    from pyolcaoml.model.saved import load_bundled_model

    return load_bundled_model(path)
