"""Model file format version 3 in libolcaoml: environment variants.

An element with a variant has a second set of networks, used for those of
its atoms whose descriptors are nonzero in any of the variant's
SWITCH_COLUMNS (for Si in a Si + C model: the components that involve C,
exactly 0.0 for a Si atom with no C neighbour).  The version 3 files here
are written by text manipulation of an ordinary export, independently of
the Python exporter of variants:

* the bundled Si + C ensemble (data/sic_model, 5 members) with a Si
  variant whose 5 networks are the Si members with the last layer's BIAS
  shifted by +0.01 Hartree, and a calibration of the variant's atoms
  (VARIANT_SIGMA_SCALE, VARIANT_SIGMA_FLOOR) other than Si's.  Expected:
  the Python ensemble prediction of the unchanged model, + 0.01 for the
  Si atoms that switch, unchanged for every other atom; sigma of a
  switched atom from the Python ensemble_moments with the variant's
  calibration (the shift changes no spread), of every other atom as
  before;
* small synthetic models (zero weights: a network's output is its BIAS,
  so that the switch itself is checked exactly) for version 3 without
  NUM_MEMBERS, for an ensemble, and for every malformed variant section
  or variant calibration, each of which must be a format error that
  names the problem and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from pyolcaoml.export import FORMAT_VERSION_ITERATION_GROUPS, export_model
from pyolcaoml.library import LibraryError, LibraryModel
from pyolcaoml.model import load_model
from pyolcaoml.model.uncertainty import ensemble_moments, sigma_gram
from pyolcaoml.olcao import read_run
from pyolcaoml.structure import BOHR_IN_ANGSTROM

REPO = Path(__file__).resolve().parents[1]
SIC_RUN = REPO / "data" / "sic" / "runs" / "rattle" / "sic8_r0.10_seed10011"
#: Shift of the last layer's bias of every Si variant network (Hartree).
SHIFT = 0.01
#: OLCAOML_ERR_FORMAT and OLCAOML_ERR_STATE.
FORMAT_ERROR, STATE_ERROR = 7, 10
#: Agreement with the Python forward pass, relative to max |A|.
RTOL = 1e-12
#: The calibration of a variant's atoms in the files here, relative to the
#: element's (SIGMA_SCALE s, SIGMA_FLOOR f): (2 s, 3 f), so that sigma
#: shows which of the two an atom got.
VARIANT_SCALE_FACTOR, VARIANT_FLOOR_FACTOR = 2.0, 3.0


# -- building files -------------------------------------------------------------
def _nums(values, per_line: int = 8) -> list[str]:
    values = list(values)
    return [
        " ".join(f"{float(v):.16e}" for v in values[i : i + per_line])
        for i in range(0, len(values), per_line)
    ]


def _network_blocks(lines: list[str]) -> list[tuple[str, int, int]]:
    """(symbol, first, last) line indices of each NETWORK ... END_NETWORK."""
    blocks, start = [], None
    for i, line in enumerate(lines):
        if line.startswith("NETWORK "):
            start = i
        elif line == "END_NETWORK":
            blocks.append((lines[start].split()[1], start, i))
    return blocks


def _shift_last_bias(block: list[str], shift: float) -> list[str]:
    """The block with shift added to every entry of its last BIAS."""
    at = max(i for i, line in enumerate(block) if line == "BIAS")
    assert block[-1] == "END_NETWORK"
    bias = [float(t) for line in block[at + 1 : -1] for t in line.split()]
    return block[: at + 1] + _nums(np.array(bias) + shift, 4) + ["END_NETWORK"]


def _neighbour_version(lines: list[str]) -> str | None:
    """The format version a neighbour mean asks for: 6 with more than one
    hop (NEIGHBOUR_MEAN_HOPS), 4 with one, None without."""
    if any(line.startswith("NEIGHBOUR_MEAN_HOPS") for line in lines):
        return "6"
    return "4" if any(line.startswith("NEIGHBOUR_MEAN") for line in lines) else None


def _with_variants(lines: list[str], section: list[str]) -> str:
    """A version 3 file: lines of a version 1 or 2 export with the variant
    section inserted after the last ordinary NETWORK block."""
    out = list(lines)
    assert re.fullmatch(r"OLCAOML_MODEL [1246]", out[0])
    out[0] = "OLCAOML_MODEL " + (_neighbour_version(out) or "3")
    last = max(i for i, line in enumerate(out) if line == "END_NETWORK")
    return "\n".join(out[: last + 1] + section + out[last + 1 :]) + "\n"


def _calibration(lines: list[str], symbol: str) -> tuple[float, float]:
    """(SIGMA_SCALE, SIGMA_FLOOR) of the UNCERTAINTY block of symbol."""
    at = lines.index(f"UNCERTAINTY {symbol}")
    scale, floor = lines[at + 1].split(), lines[at + 2].split()
    assert scale[0] == "SIGMA_SCALE" and floor[0] == "SIGMA_FLOOR"
    return float(scale[1]), float(floor[1])


def _variant_calibration(lines: list[str], symbol: str) -> tuple[float, float]:
    """(VARIANT_SIGMA_SCALE, VARIANT_SIGMA_FLOOR) the files here give the
    variant of symbol."""
    scale, floor = _calibration(lines, symbol)
    return VARIANT_SCALE_FACTOR * scale, VARIANT_FLOOR_FACTOR * floor


def _variant_sigma(scale: float, floor: float) -> list[str]:
    return [
        f"VARIANT_SIGMA_SCALE {scale:.16e}",
        f"VARIANT_SIGMA_FLOOR {floor:.16e}",
    ]


def _with_uncertainty_records(
    lines: list[str], symbol: str, records: list[str]
) -> list[str]:
    """lines with records added at the end of the UNCERTAINTY block of
    symbol (after its GRAM matrix: before the next block, END or the end of
    lines)."""
    at = lines.index(f"UNCERTAINTY {symbol}")
    end = next(
        (
            i
            for i in range(at + 1, len(lines))
            if lines[i].startswith("UNCERTAINTY ") or lines[i] == "END"
        ),
        len(lines),
    )
    return lines[:end] + records + lines[end:]


def _columns(columns, per_line: int = 12) -> list[str]:
    columns = list(columns)
    return [
        " ".join(str(c) for c in columns[i : i + per_line])
        for i in range(0, len(columns), per_line)
    ]


def _variant(symbol: str, columns, networks: list[list[str]]) -> list[str]:
    return [
        f"VARIANT {symbol}",
        f"SWITCH_COLUMNS {len(columns)}",
        *_columns(columns),
        *[line for net in networks for line in net],
        "END_VARIANT",
    ]


def _synthetic_network(symbol: str, alphas, k: int, bias) -> list[str]:
    """A network whose output is its bias: one linear Dense layer with zero
    weights on u = x (mean 0, variance 1)."""
    n = len(alphas)
    return [
        f"NETWORK {symbol}",
        f"NUM_ALPHAS {n}",
        "ALPHAS",
        *_nums(alphas),
        "ISOLATED_COEFFS",
        *_nums(np.zeros(n)),
        "CHARGE_COLUMNS",
        *_nums(np.zeros(3 * n)),
        "NORMALIZATION normalization 1.0e-07",
        "MEAN",
        *["0 " * 59 + "0"] * (k // 60),
        *(["0 " * (k % 60 - 1) + "0"] if k % 60 else []),
        "VARIANCE",
        *["1 " * 59 + "1"] * (k // 60),
        *(["1 " * (k % 60 - 1) + "1"] if k % 60 else []),
        "NUM_LAYERS 1",
        f"DENSE coefficients normalization {k} {n} linear",
        "WEIGHTS",
        *["0 " * 119 + "0"] * (k * n // 120),
        *(["0 " * (k * n % 120 - 1) + "0"] if k * n % 120 else []),
        "BIAS",
        *_nums(bias),
        "END_NETWORK",
    ]


def _load_error(path: Path, text: str) -> LibraryError:
    path.write_text(text)
    with pytest.raises(LibraryError) as info:
        LibraryModel(path)
    return info.value


# -- structures -------------------------------------------------------------------
def _mixed_inputs():
    """A rattled 3x3x3 Si supercell (216 atoms) with two C atoms far apart:
    Si atoms near a C and Si atoms with no C within the largest cutoff.
    (cell rows Bohr, positions Bohr, symbols)."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((3, 3, 3))
    atoms.rattle(0.05, seed=3)
    symbols = atoms.get_chemical_symbols()
    symbols[0] = symbols[120] = "C"
    cell = atoms.cell.array / BOHR_IN_ANGSTROM
    return cell, atoms.positions / BOHR_IN_ANGSTROM, symbols


def _run_inputs():
    run = read_run(SIC_RUN)
    sd = run.structure_dat
    return sd.cell_bohr, sd.atom_positions_bohr, list(run.structure.symbols)


STRUCTURES = {"sic8_run": _run_inputs, "si216_two_c": _mixed_inputs}


# -- fixtures ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def sic():
    """The bundled Si + C model as an ordinary ensemble: without its own Si
    variant, if it has one (the variants here are built on top of it), and
    so without its reference OLCAO runs (olcao_iterations.json is about
    the model with the variant): no expected iterations in its export."""
    model = load_model("sic")
    for em in model.elements.values():
        em.variant_columns, em.variant_members = None, []
    model.path = None
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sic):
    """(folder, lines of the version 2 export of the bundled Si + C model)."""
    folder = tmp_path_factory.mktemp("variants")
    v2 = folder / "sic_v2.oml"
    export_model(sic, v2)
    lines = v2.read_text().splitlines()
    # an ensemble without variants: version 2, 4 with a neighbour mean, 6
    # with more than one hop of it
    assert lines[0] == "OLCAOML_MODEL " + (_neighbour_version(lines) or "2")
    return folder, lines


@pytest.fixture(scope="module")
def num_features(exported) -> int:
    _, lines = exported
    return int(next(ln for ln in lines if ln.startswith("NUM_FEATURES")).split()[1])


@pytest.fixture(scope="module")
def switch(sic, num_features) -> np.ndarray:
    """0-based switch columns: the components of the chem descriptor that
    are not those of the Si-only descriptor (its base Si model's), i.e.
    those that involve C (data/sic_base_model: the Si model it extends)."""
    from pyolcaoml.model.extend import extension_columns

    base = load_model(REPO / "data" / "sic_base_model")
    _, cols = extension_columns(base.descriptor, sic.descriptor, ("Si",))
    assert 0 < len(cols) < num_features
    return cols


@pytest.fixture(scope="module")
def inner_features(sic, num_features) -> int:
    """K of the descriptor without its neighbour mean (the synthetic models
    below use that descriptor: versions 1-3 have no neighbour mean)."""
    d = sic.descriptor
    if d.get("type") != "neighbour_mean":
        return num_features
    return num_features // (int(d.get("hops", 1)) + 1)  # K, then K per hop


@pytest.fixture(scope="module")
def syn_switch(switch, inner_features) -> np.ndarray:
    """The switch columns of the synthetic models' descriptor."""
    return switch[switch < inner_features]


@pytest.fixture(scope="module")
def variant_file(exported, switch) -> Path:
    """The export with a Si variant: its members are the Si members, last
    BIAS + SHIFT, and its calibration (2 s, 3 f) of Si's (s, f)."""
    folder, lines = exported
    si = [lines[a : b + 1] for s, a, b in _network_blocks(lines) if s == "Si"]
    assert len(si) == 5
    nets = [_shift_last_bias(block, SHIFT) for block in si]
    sigma = _variant_sigma(*_variant_calibration(lines, "Si"))
    text = _with_variants(
        _with_uncertainty_records(lines, "Si", sigma),
        ["NUM_VARIANTS 1", *_variant("Si", switch + 1, nets)],
    )
    path = folder / "sic_v3.oml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def libs(exported, variant_file):
    folder, _ = exported
    with LibraryModel(folder / "sic_v2.oml") as v2, LibraryModel(variant_file) as v3:
        yield v2, v3


def _expected(sic, x, symbols, switched, variant=None):
    """Python ensemble mean and sigma per atom of the unchanged model, the
    mean with SHIFT added to the switched (Si) atoms, and the sigma of the
    variant file: for the switched atoms from ensemble_moments with the
    variant's calibration variant = (scale, floor) on their members as
    the file has them (Si members + SHIFT), for the others as before."""
    n = max(em.n_alphas for em in sic.elements.values())
    mean, sigma = np.zeros((len(symbols), n)), np.zeros(len(symbols))
    for el in set(symbols):
        rows = np.array([s == el for s in symbols])
        m, s = sic.predict_element_uncertainty(el, x[rows])
        mean[rows, : m.shape[1]] = m
        sigma[rows] = s
    shifted = mean.copy()
    shifted[switched] += SHIFT
    variant_sigma = sigma.copy()
    if variant is not None and switched.any():
        members = sic.predict_members("Si", x[switched]) + SHIFT
        gram = sigma_gram(sic.metric, sic.elements["Si"].alphas)
        _, variant_sigma[switched] = ensemble_moments(members, gram, *variant)
    return mean, shifted, sigma, variant_sigma


# -- the real model -----------------------------------------------------------------
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_variant_predicts_the_si_atoms_with_a_c_neighbour(
    sic, exported, libs, switch, name
):
    v2, v3 = libs
    _, lines = exported
    si_scale, si_floor = _calibration(lines, "Si")
    variant = _variant_calibration(lines, "Si")
    assert variant[0] != si_scale and variant[1] != si_floor
    assert v3.n_members == 5 and v3.elements == v2.elements
    cell, pos, symbols = STRUCTURES[name]()
    inputs = (cell, pos, v3.element_indices(symbols))
    x = v3.descriptors(*inputs)
    np.testing.assert_array_equal(v2.descriptors(*inputs), x)
    is_si = np.array([s == "Si" for s in symbols])
    switched = is_si & np.any(x[:, switch] != 0, axis=1)
    if name == "si216_two_c":
        assert 0 < switched.sum() < is_si.sum(), "both kinds of Si atoms"
        # the plain Si atoms really are all zero there (the switch rule)
        assert not np.any(x[np.ix_(is_si & ~switched, switch)])
    else:
        assert switched.sum() == is_si.sum() > 0

    mean, shifted, base_expected, sigma = _expected(sic, x, symbols, switched, variant)
    scale = np.abs(mean).max()
    got = v3.predict(*inputs)
    assert np.abs(got - shifted).max() <= RTOL * scale
    got_mean, got_sigma = v3.predict_ensemble(*inputs)
    np.testing.assert_array_equal(got_mean, got)
    np.testing.assert_allclose(got_sigma, sigma, rtol=1e-9, atol=0)
    got2, sigma2 = v3.predict_ensemble_from_descriptors(inputs[2], x)
    np.testing.assert_array_equal(got2, got)
    np.testing.assert_array_equal(sigma2, got_sigma)

    # against the same model without its variant: every other atom to the
    # bit, the switched ones moved by SHIFT; their sigma the same spread
    # s2 recalibrated: base^2 = s^2 s2 + f^2, got^2 = (a s)^2 s2 + (b f)^2
    # = a^2 base^2 + (b^2 - a^2) f^2 (a, b the factors of the variant's
    # calibration)
    base, base_sigma = v2.predict_ensemble(*inputs)
    assert np.abs(base - mean).max() <= RTOL * scale
    np.testing.assert_allclose(base_sigma, base_expected, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(got[~switched], base[~switched])
    np.testing.assert_array_equal(got_sigma[~switched], base_sigma[~switched])
    np.testing.assert_allclose(
        got[switched] - base[switched], SHIFT, rtol=0, atol=1e-12
    )
    a, b = VARIANT_SCALE_FACTOR, VARIANT_FLOOR_FACTOR
    np.testing.assert_allclose(
        got_sigma[switched] ** 2,
        a * a * base_sigma[switched] ** 2 + (b * b - a * a) * si_floor**2,
        rtol=1e-9,
        atol=0,
    )
    assert np.all(got_sigma[switched] > base_sigma[switched])


def test_variant_results_do_not_depend_on_threads_or_subsets(libs):
    _, v3 = libs
    cell, pos, symbols = _mixed_inputs()
    el = v3.element_indices(symbols)
    mean, sigma = v3.predict_ensemble(cell, pos, el)
    one_mean, one_sigma = v3.predict_ensemble(cell, pos, el, n_threads=1)
    np.testing.assert_array_equal(one_mean, mean)
    np.testing.assert_array_equal(one_sigma, sigma)
    np.testing.assert_array_equal(v3.predict(cell, pos, el, n_threads=1), mean)
    # a few atoms alone (an MPI rank's share) get the same bits
    centres = np.array([1, 2, 5, 121, 122, 200, 216], dtype=np.int32)
    sub_mean, sub_sigma = v3.predict_ensemble(cell, pos, el, centres=centres)
    np.testing.assert_array_equal(sub_mean, mean[centres - 1])
    np.testing.assert_array_equal(sub_sigma, sigma[centres - 1])


def test_version_2_export_still_reads_and_predicts(sic, libs):
    v2, _ = libs
    cell, pos, symbols = _run_inputs()
    el = v2.element_indices(symbols)
    x = v2.descriptors(cell, pos, el)
    mean, _, sigma, _ = _expected(sic, x, symbols, np.zeros(len(el), bool))
    got, got_sigma = v2.predict_ensemble(cell, pos, el)
    assert np.abs(got - mean).max() <= RTOL * np.abs(mean).max()
    np.testing.assert_allclose(got_sigma, sigma, rtol=1e-9)


# -- synthetic models ----------------------------------------------------------------
#: Outputs (all 16 coefficients) of the synthetic networks.
SI_BIAS, C_BIAS, VARIANT_BIAS = 1.25, -2.5, 3.75


@pytest.fixture(scope="module")
def synthetic(exported, sic, num_features, syn_switch, inner_features):
    """Pieces of small models on the real Si + C descriptor: the header
    (version 1 or 2), networks whose output is their bias, the UNCERTAINTY
    blocks of the real export (Si's with the records of a Si variant's
    calibration, by default)."""
    _, lines = exported
    head = lines[: lines.index(f"NUM_FEATURES {num_features}")]
    head = [ln for ln in head if not ln.startswith("NEIGHBOUR_MEAN")]
    head.append(f"NUM_FEATURES {inner_features}")
    tail = lines[lines.index("UNCERTAINTY Si") : lines.index("END")]
    alphas = sic.elements["Si"].alphas
    n = len(alphas)
    k = inner_features
    switch = syn_switch

    def net(symbol="Si", bias=SI_BIAS, a=alphas):
        return _synthetic_network(symbol, a, k, np.full(len(a), bias))

    def single(section, networks=None, version=1):
        """Lines of a single-network model, as a version 3 text when
        section (the variant section) is given."""
        top = [f"OLCAOML_MODEL {version}", *head[1:]]
        nets = networks if networks is not None else [net(), net("C", C_BIAS)]
        body = [*top, f"NUM_NETWORKS {len(nets)}", *sum(nets, []), "END"]
        return body if section is None else _with_variants(body, section)

    variant_sigma = _variant_sigma(*_variant_calibration(tail, "Si"))

    def ensemble(section, records=None):
        """A version 3 ensemble of 2 members; records: the lines added to
        each element's UNCERTAINTY block (default: Si's variant
        calibration)."""
        top = ["OLCAOML_MODEL 2", *head[1:], "NUM_MEMBERS 2", "NUM_NETWORKS 4"]
        nets = [net(), net("C", C_BIAS), net(bias=SI_BIAS + 1), net("C", C_BIAS - 1)]
        blocks = list(tail)
        for symbol, extra in (records or {"Si": variant_sigma}).items():
            blocks = _with_uncertainty_records(blocks, symbol, extra)
        return _with_variants([*top, *sum(nets, []), *blocks, "END"], section)

    good = ["NUM_VARIANTS 1", *_variant("Si", switch + 1, [net(bias=VARIANT_BIAS)])]
    good_ensemble = [
        "NUM_VARIANTS 1",
        *_variant(
            "Si",
            switch + 1,
            [net(bias=VARIANT_BIAS), net(bias=VARIANT_BIAS + 2)],
        ),
    ]
    return {
        "net": net,
        "single": single,
        "ensemble": ensemble,
        "good": good,
        "good_ensemble": good_ensemble,
        "lines": lines,
        "tail": tail,
        "gram": sigma_gram(sic.metric, alphas),
        "n": n,
        "k": k,
        "alphas": alphas,
    }


def test_single_network_version_3_switches_exactly(tmp_path, synthetic, syn_switch):
    """Version 3 without NUM_MEMBERS: each variant has one network.  Zero
    weights make every output its network's bias, so each atom shows which
    network it went through."""
    switch = syn_switch
    path = tmp_path / "single_v3.oml"
    path.write_text(synthetic["single"](synthetic["good"]))
    cell, pos, symbols = _mixed_inputs()
    with LibraryModel(path) as lib:
        assert lib.n_members == 1
        el = lib.element_indices(symbols)
        x = lib.descriptors(cell, pos, el)
        is_si = el == lib.element_index("Si")
        switched = is_si & np.any(x[:, switch] != 0, axis=1)
        assert 0 < switched.sum() < is_si.sum()
        want = np.where(switched, VARIANT_BIAS, np.where(is_si, SI_BIAS, C_BIAS))
        got = lib.predict(cell, pos, el)
        np.testing.assert_array_equal(got, np.repeat(want[:, None], 16, axis=1))
        np.testing.assert_array_equal(lib.predict(cell, pos, el, n_threads=1), got)
        with pytest.raises(LibraryError) as info:
            lib.predict_ensemble(cell, pos, el)
        assert info.value.status == STATE_ERROR

        # the rule on hand-made descriptors: any nonzero switch column
        k = synthetic["k"]
        other = np.setdiff1d(np.arange(k), switch)
        rows = np.zeros((6, k))
        rows[1, switch[0]] = 1e-300  # tiny but nonzero: the variant
        rows[2, switch[-1]] = -3.0  # the last switch column
        rows[3, other] = 7.0  # everything but the switch: ordinary
        rows[4, switch] = -0.0  # -0.0 == 0.0: ordinary
        rows[5, :] = 1.0
        si = np.full(6, lib.element_index("Si"), np.int32)
        got = lib.predict_from_descriptors(si, rows)[:, 0]
        want = [SI_BIAS, VARIANT_BIAS, VARIANT_BIAS, SI_BIAS, SI_BIAS, VARIANT_BIAS]
        np.testing.assert_array_equal(got, want)
        # a C atom never switches (C has no variant)
        c = np.full(6, lib.element_index("C"), np.int32)
        np.testing.assert_array_equal(lib.predict_from_descriptors(c, rows), C_BIAS)


def test_ensemble_version_3_uses_each_members_variant(tmp_path, synthetic, syn_switch):
    """Member k of an atom that switches is member k of the variant: the
    mean of the variant's members, here 3.75 and 5.75, is 4.75.  Its sigma
    uses the variant's calibration, that of an ordinary Si atom Si's."""
    switch = syn_switch
    path = tmp_path / "ensemble_v3.oml"
    path.write_text(synthetic["ensemble"](synthetic["good_ensemble"]))
    k = synthetic["k"]
    rows = np.zeros((3, k))
    rows[1, switch[3]] = 0.5
    rows[2, :] = 0.5
    with LibraryModel(path) as lib:
        assert lib.n_members == 2
        si = np.full(3, lib.element_index("Si"), np.int32)
        mean, sigma = lib.predict_ensemble_from_descriptors(si, rows)
        np.testing.assert_array_equal(mean[:, 0], [SI_BIAS + 0.5, 4.75, 4.75])
        # the variant's members are 2 apart, the ordinary ones 1, and each
        # kind of atom has its own calibration
        n, gram = synthetic["n"], synthetic["gram"]
        # (members, atoms, terms): every term of a member is its bias
        ordinary = np.stack([np.full((1, n), b) for b in (SI_BIAS, SI_BIAS + 1)])
        variant = np.stack(
            [np.full((1, n), b) for b in (VARIANT_BIAS, VARIANT_BIAS + 2)]
        )
        tail = synthetic["tail"]
        _, want_ordinary = ensemble_moments(ordinary, gram, *_calibration(tail, "Si"))
        _, want_variant = ensemble_moments(
            variant, gram, *_variant_calibration(tail, "Si")
        )
        want = [want_ordinary[0], want_variant[0], want_variant[0]]
        np.testing.assert_allclose(sigma, want, rtol=1e-9, atol=0)
        assert sigma[1] == sigma[2] > sigma[0] > 0
        np.testing.assert_array_equal(lib.predict_from_descriptors(si, rows), mean)


# -- malformed variant sections ------------------------------------------------
def _fault(synthetic, switch, case):
    """(text, message fragment, (needle, nth)): the error must name the
    line of the nth line equal to needle, counted from the variant section
    on (from the top when the file has none, or for the version)."""
    net, single, n = synthetic["net"], synthetic["single"], synthetic["n"]
    k = synthetic["k"]
    cols = [int(c) for c in switch + 1]

    def one(symbol="Si", columns=cols, networks=None, end=True, count=1):
        nets = networks if networks is not None else [net(symbol)]
        v = _variant(symbol, columns, nets)
        return [f"NUM_VARIANTS {count}", *(v if end else v[:-1])]

    def row(columns):
        return " ".join(map(str, columns))

    if case == "unknown_element":
        text, msg, at = (
            single(one("Ge", networks=[net()])),
            "VARIANT Ge: not a descriptor element",
            "VARIANT Ge",
        )
    elif case == "element_without_networks":
        text = single(one("C", networks=[net("C")]), networks=[net()])
        msg, at = "VARIANT C: the model has no networks for C", "VARIANT C"
    elif case == "duplicate":
        text = single(one(count=2) + one()[1:])
        msg, at = "a second VARIANT for Si (at most one per element)", ("VARIANT Si", 2)
    elif case == "column_zero":
        bad = [0, cols[1], cols[2]]
        text, msg, at = (
            single(one(columns=bad)),
            f"column 0 is outside 1..{k}",
            row(bad),
        )
    elif case == "column_beyond_features":
        bad = [*cols[:3], k + 1]
        text, msg, at = (
            single(one(columns=bad)),
            f"column {k + 1} is outside 1..{k} (NUM_FEATURES)",
            row(bad),
        )
    elif case == "columns_repeated":
        bad = [cols[0], cols[1], cols[1], cols[2]]
        text, msg, at = (
            single(one(columns=bad)),
            f"increase strictly, but {cols[1]} follows {cols[1]}",
            row(bad),
        )
    elif case == "columns_decreasing":
        bad = [cols[5], cols[4]]
        text, msg, at = (
            single(one(columns=bad)),
            f"increase strictly, but {cols[4]} follows {cols[5]}",
            row(bad),
        )
    elif case == "column_not_integer":
        sec = one(columns=[3, 4])
        sec[3] = "3 4.5"
        text, msg, at = (
            single(sec),
            'expected 2 integer column numbers, got "3 4.5"',
            "3 4.5",
        )
    elif case == "columns_missing":
        sec = one(columns=[3, 4])
        sec[2] = "SWITCH_COLUMNS 3"
        text, msg, at = (
            single(sec),
            'expected 3 integer column numbers, got "NETWORK Si"',
            "NETWORK Si",
        )
    elif case == "columns_beyond_count":
        sec = one(columns=[3, 4])
        sec[3] = "3 4 5"
        text, msg, at = (
            single(sec),
            "more numbers than the 2 expected for SWITCH_COLUMNS",
            "3 4 5",
        )
    elif case == "too_many_columns":
        sec = one()
        sec[2] = f"SWITCH_COLUMNS {k + 1}"
        text, msg, at = (
            single(sec),
            f"but the descriptor has only NUM_FEATURES = {k}",
            sec[2],
        )
    elif case == "no_network_block":
        text = single(one(networks=[]))
        msg, at = (
            "VARIANT Si has 0 NETWORK blocks, expected 1 (a single-network model)",
            "END_VARIANT",
        )
    elif case == "too_many_network_blocks":
        text = single(one(networks=[net(), net()]))
        msg, at = (
            "VARIANT Si has more NETWORK blocks than the expected 1",
            ("NETWORK Si", 2),
        )
    elif case == "too_few_members":
        text = synthetic["ensemble"](one(networks=[net()]))
        msg, at = (
            "VARIANT Si has 1 NETWORK blocks, expected 2 (NUM_MEMBERS)",
            "END_VARIANT",
        )
    elif case == "num_alphas_differ":
        short = _synthetic_network("Si", synthetic["alphas"][:-1], k, np.zeros(n - 1))
        text = single(one(networks=[short]))
        msg, at = (
            f"network 1 of VARIANT Si has NUM_ALPHAS {n - 1}, "
            f"the element's networks {n}",
            "END_NETWORK",
        )
    elif case == "alphas_differ":
        text = single(one(networks=[net(a=synthetic["alphas"] * 1.5)]))
        msg, at = (
            "network 1 of VARIANT Si has other ALPHAS than the element's networks",
            "END_NETWORK",
        )
    elif case == "network_of_another_element":
        text = single(one(networks=[net("C")]))
        msg, at = "network 1 of VARIANT Si is a NETWORK C block", "END_NETWORK"
    elif case == "missing_end_variant":
        text = single(one(end=False))
        msg, at = 'expected END_VARIANT (the end of VARIANT Si), got "END"', "END"
    elif case == "missing_end_before_next_variant":
        text = single(one(end=False, count=2) + one("C", networks=[net("C")])[1:])
        msg, at = (
            'expected END_VARIANT (the end of VARIANT Si), got "VARIANT C"',
            "VARIANT C",
        )
    elif case == "no_variants":
        text, msg, at = (
            single(one(count=0)),
            "NUM_VARIANTS must be at least 1",
            "NUM_VARIANTS 0",
        )
    elif case == "more_variants_than_elements":
        text = single(one(count=3))
        msg, at = (
            "NUM_VARIANTS is 3, but only 2 elements have networks",
            "NUM_VARIANTS 3",
        )
    elif case == "version_3_without_variants":
        text = "\n".join(single(None, version=3)) + "\n"
        msg, at = 'expected NUM_VARIANTS, got "END"', "END"
    elif case == "variants_in_version_1":
        text = single(one()).replace("OLCAOML_MODEL 3", "OLCAOML_MODEL 1", 1)
        msg, at = 'expected END, got "NUM_VARIANTS 1"', "NUM_VARIANTS 1"
    elif case == "variant_sigma_missing":
        text = synthetic["ensemble"](synthetic["good_ensemble"], {"Si": []})
        msg, at = (
            "expected VARIANT_SIGMA_SCALE (UNCERTAINTY Si: Si has a variant), "
            'got "UNCERTAINTY C"',
            "UNCERTAINTY C",
        )
    elif case == "variant_sigma_floor_missing":
        records = {"Si": ["VARIANT_SIGMA_SCALE 2.5"]}
        text = synthetic["ensemble"](synthetic["good_ensemble"], records)
        msg, at = 'expected VARIANT_SIGMA_FLOOR, got "UNCERTAINTY C"', "UNCERTAINTY C"
    elif case == "variant_sigma_without_variant":
        stray = ["VARIANT_SIGMA_SCALE 1.5", "VARIANT_SIGMA_FLOOR 0.5"]
        records = {"Si": _variant_sigma(2.5, 0.01), "C": stray}
        text = synthetic["ensemble"](synthetic["good_ensemble"], records)
        msg, at = (
            "VARIANT_SIGMA_SCALE in UNCERTAINTY C, but C has no variant",
            stray[0],
        )
    elif case == "variant_sigma_in_version_2":
        lines = _with_uncertainty_records(
            synthetic["lines"], "Si", ["VARIANT_SIGMA_FLOOR 0.5"]
        )
        text = "\n".join(lines) + "\n"
        msg, at = (
            "VARIANT_SIGMA_FLOOR in UNCERTAINTY Si, but Si has no variant",
            "VARIANT_SIGMA_FLOOR 0.5",
        )
    elif case in (
        "variant_sigma_not_a_number",
        "variant_sigma_infinite",
        "variant_sigma_negative_floor",
    ):
        records = {
            "variant_sigma_not_a_number": ["VARIANT_SIGMA_SCALE two", "x"],
            "variant_sigma_infinite": ["VARIANT_SIGMA_SCALE inf", "x"],
            "variant_sigma_negative_floor": [
                "VARIANT_SIGMA_SCALE 2.5",
                "VARIANT_SIGMA_FLOOR -1.0e-03",
            ],
        }[case]
        text = synthetic["ensemble"](synthetic["good_ensemble"], {"Si": records})
        key = records[-1 if "floor" in case else 0].split()[0]
        unit = " (Hartree)" if "floor" in case else ""
        msg = f"{key} must be a finite number >= 0{unit}"
        at = records[-1 if "floor" in case else 0]
    elif case == "future_version":
        new = FORMAT_VERSION_ITERATION_GROUPS + 1  # one past the newest
        text = single(one()).replace("OLCAOML_MODEL 3", f"OLCAOML_MODEL {new}", 1)
        msg = (
            f"format version {new} is not supported (this library reads "
            f"versions 1 to {new - 1})"
        )
        at = (f"OLCAOML_MODEL {new}", 1, "top")
    else:
        raise AssertionError(case)
    return text, msg, at if isinstance(at, tuple) else (at, 1)


def _named_line(text: str, needle: str, nth: int = 1, top: bool = False) -> int:
    """1-based number of the nth line equal to needle (stripped), counted
    from the first NUM_VARIANTS line (from the top if top or none)."""
    lines = [ln.strip() for ln in text.splitlines()]
    start = 0
    if not top:
        start = next(
            (i for i, ln in enumerate(lines) if ln.startswith("NUM_VARIANTS")), 0
        )
    hits = [i + 1 for i in range(start, len(lines)) if lines[i] == needle]
    return hits[nth - 1]


FAULTS = [
    "unknown_element",
    "element_without_networks",
    "duplicate",
    "column_zero",
    "column_beyond_features",
    "columns_repeated",
    "columns_decreasing",
    "column_not_integer",
    "columns_missing",
    "columns_beyond_count",
    "too_many_columns",
    "no_network_block",
    "too_many_network_blocks",
    "too_few_members",
    "num_alphas_differ",
    "alphas_differ",
    "network_of_another_element",
    "missing_end_variant",
    "missing_end_before_next_variant",
    "no_variants",
    "more_variants_than_elements",
    "version_3_without_variants",
    "variants_in_version_1",
    "future_version",
    "variant_sigma_missing",
    "variant_sigma_floor_missing",
    "variant_sigma_without_variant",
    "variant_sigma_in_version_2",
    "variant_sigma_not_a_number",
    "variant_sigma_infinite",
    "variant_sigma_negative_floor",
]


@pytest.mark.parametrize("case", FAULTS)
def test_malformed_variant_section_is_a_clear_format_error(
    tmp_path, synthetic, syn_switch, case
):
    """Each fault is a format error whose message says what is wrong and
    on which line; no crash, and the library loads a good file after it."""
    text, fragment, (needle, nth, *top) = _fault(synthetic, syn_switch, case)
    error = _load_error(tmp_path / f"{case}.oml", text)
    assert error.status == FORMAT_ERROR, str(error)
    assert fragment in error.text, error.text
    line = _named_line(text, needle, nth, bool(top))
    assert f", line {line}: " in error.text, (line, error.text)
    good = tmp_path / "good.oml"
    good.write_text(synthetic["single"](synthetic["good"]))
    with LibraryModel(good) as lib:
        assert lib.n_members == 1
