"""Descriptor options shared by every command that computes descriptors."""

from __future__ import annotations

import argparse
from typing import Any


def element_value(text: str) -> tuple[str, float]:
    """'Si=2.35' -> ('Si', 2.35) (argparse type)."""
    from pyolcaoml.structure import _canonical_symbol

    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected ELEMENT=VALUE, got {text!r}")
    try:
        return _canonical_symbol(name), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ELEMENT=VALUE, got {text!r}"
        ) from None


def scale_list(text: str) -> list[float]:
    """'1.0,1.5' -> [1.0, 1.5] (argparse type)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one scale")
    return values


def radius_pair(text: str) -> tuple[float, float]:
    """'2.4,2.8' -> (2.4, 2.8) (argparse type)."""
    try:
        values = scale_list(text)
    except argparse.ArgumentTypeError:
        values = []
    if len(values) != 2:
        raise argparse.ArgumentTypeError(
            f"expected R_IN,R_OUT (two numbers, Å), got {text!r}"
        )
    return values[0], values[1]


def pair_range(text: str) -> tuple[str, tuple[float, float]]:
    """'Si-C=2.25,2.45' -> ('Si-C', (2.25, 2.45)) (argparse type)."""
    name, sep, rest = text.partition("=")
    elements = name.strip().split("-")
    if not sep or len(elements) != 2 or not all(elements):
        raise argparse.ArgumentTypeError(
            f"expected A-B=R_IN,R_OUT (two elements, two numbers in Å), got {text!r}"
        )
    return "-".join(elements), radius_pair(rest)


def add_descriptor_arguments(parser: argparse.ArgumentParser) -> None:
    d = parser.add_argument_group("descriptor (SO(4) bispectrum, LAMMPS conventions)")
    d.add_argument("--twojmax", type=int, default=8, help="2J_max (default 8)")
    d.add_argument(
        "--rcutfac",
        type=float,
        default=1.0,
        help="cutoff scale: R_ij = rcutfac (R_i + R_j) (default 1.0)",
    )
    d.add_argument(
        "--rfac0", type=float, default=0.99363, help="default 0.99363 (LAMMPS)"
    )
    d.add_argument(
        "--rmin0", type=float, default=0.0, help="inner radius in Å (default 0)"
    )
    d.add_argument(
        "--radius",
        type=element_value,
        action="append",
        default=[],
        metavar="EL=R",
        help="element radius R_e in Å, repeatable (default for every element "
        "present: its covalent radius x 2.35/1.11, Si 2.35, C 1.609; see "
        "pyolcaoml/radii.py)",
    )
    d.add_argument(
        "--weight",
        type=element_value,
        action="append",
        default=[],
        metavar="EL=W",
        help="element neighbour weight, repeatable (default 1)",
    )
    d.add_argument("--bzero", action="store_true", help="subtract the isolated-atom B")
    d.add_argument(
        "--bnorm", action="store_true", help="divide B_{j1 j2 j} by 2J+1 (bnormflag)"
    )
    d.add_argument(
        "--chem", action="store_true", help="explicit multi-element bispectrum"
    )
    d.add_argument(
        "--no-switch",
        dest="switch",
        action="store_false",
        help="no smooth cosine cutoff function",
    )
    d.add_argument(
        "--scales",
        type=scale_list,
        default=None,
        metavar="S1,S2,...",
        help="multi-scale: bispectra with rcutfac multiplied by each scale, "
        "stacked (e.g. 1.0,1.5,2.0)",
    )
    d.add_argument(
        "--neighbour-mean",
        type=radius_pair,
        default=None,
        metavar="R_IN,R_OUT",
        help="append each atom's neighbours' descriptors, averaged with full "
        "weight up to R_IN and a cosine switch to 0 at R_OUT (Å), e.g. "
        "2.4,2.8 (pyolcaoml.neighbour_mean)",
    )
    d.add_argument(
        "--neighbour-mean-pair",
        type=pair_range,
        action="append",
        default=[],
        metavar="A-B=R_IN,R_OUT",
        help="the neighbour mean's switching range (Å) for the element pair "
        "A-B (and B-A), e.g. Si-C=2.25,2.45; repeat for each pair; the "
        "others keep --neighbour-mean's",
    )
    d.add_argument(
        "--neighbour-hops",
        type=int,
        default=1,
        metavar="N",
        help="repeat the neighbour mean N times (1-4): N = 2 appends the "
        "neighbours' means averaged once more, what atoms two bonds away "
        "see (default 1)",
    )


def build_descriptor(args: argparse.Namespace, elements=None) -> Any:
    """The descriptor calculator from the options (ValueError if invalid).

    ``elements``: the elements of the structures it is for; each gets its
    default radius (:mod:`pyolcaoml.radii`) unless --radius gives one.
    """
    from pyolcaoml.bispectrum import Bispectrum, MultiScaleBispectrum
    from pyolcaoml.radii import default_radii

    # The elements the neighbour mean's pairs name need a radius too.
    named = [
        e
        for name, _ in getattr(args, "neighbour_mean_pair", None) or []
        for e in name.split("-")
    ]
    wanted = list(dict.fromkeys([*(elements or ["Si"]), *named]))
    radii = default_radii(wanted, dict(args.radius))
    weights = {el: 1.0 for el in radii}
    for el, w in args.weight:
        if el not in radii:
            raise ValueError(f"--weight {el}={w}: no radius for {el} (use --radius)")
        weights[el] = w
    kwargs: dict[str, Any] = dict(
        twojmax=args.twojmax,
        rcutfac=args.rcutfac,
        rfac0=args.rfac0,
        rmin0=args.rmin0,
        radii=radii,
        weights=weights,
        switch=args.switch,
        bzero=args.bzero,
        bnorm=args.bnorm,
        chem=args.chem,
    )
    if args.scales is None:
        calc: Any = Bispectrum(**kwargs)
    else:
        calc = MultiScaleBispectrum(scales=args.scales, **kwargs)
    pair = getattr(args, "neighbour_mean", None)
    pairs = getattr(args, "neighbour_mean_pair", None) or []
    hops = getattr(args, "neighbour_hops", 1)
    if pair is None:
        if pairs:
            raise ValueError("--neighbour-mean-pair needs --neighbour-mean")
        if hops != 1:
            raise ValueError("--neighbour-hops needs --neighbour-mean")
        return calc
    from pyolcaoml.neighbour_mean import NeighbourMean

    by_pair: dict[str, tuple[float, float]] = {}
    for name, r in pairs:
        if name in by_pair:
            raise ValueError(f"--neighbour-mean-pair: {name} is given twice")
        by_pair[name] = r
    try:
        return NeighbourMean(calc, *pair, pairs=by_pair, hops=hops)
    except ValueError as exc:
        option = "--neighbour-hops" if "hops" in str(exc) else "--neighbour-mean-pair"
        raise ValueError(f"{option}: {exc}") from None


def covering_descriptor(
    args: argparse.Namespace, current: Any, elements, seen: set[str]
) -> Any:
    """``current``, or one rebuilt with default radii for elements it lacks.

    ``seen`` (updated) holds the elements met so far. Without --chem the
    bispectrum of an atom depends only on the radii of the elements present
    around it, so descriptors already computed stay valid; with --chem the
    number of features depends on the element list, so every radius must be
    given up front.
    """
    seen.update(elements)
    inner = getattr(current, "inner", current)  # a NeighbourMean's blocks
    radii = getattr(inner, "radii", None) or inner.members[0].radii
    missing = sorted(set(elements) - set(radii))
    if not missing:
        return current
    if args.chem:
        raise ValueError(
            f"with --chem give --radius for every element of the runs "
            f"(missing: {', '.join(missing)})"
        )
    return build_descriptor(args, seen)
