"""Iteration groups through libolcaoml (model format 9, API 2.5).

A model's reference OLCAO runs may split their cells into groups that the
geometry recognises (first: the Si vacancy in SiC, where OLCAO needs 2-3x
the iterations of the general fit), each with its own fit.  The library
reads the groups (``ITERATION_GROUPS`` after the version 8 block), finds a
structure's group (``olcaoml_iteration_group``) and evaluates its fit
(``olcaoml_expected_iterations_in_group``).  The references here are
independent of the code under test:

* the file: hand-written version 9 files (a small Si + C ensemble file,
  and the bundled SiC model's own export with a block appended), and one
  fault of every kind in the new records, each a format error naming its
  line;
* the group: the defect that data/sic/make_sic_runs.py wrote into each
  stored run's meta.json when it made the cell (Si vacancy or not),
  neighbour counts by brute force over the periodic images in NumPy, and
  3C-SiC cells built with ASE (8 atoms, with and without a Si atom) and
  cells thinner than the cutoff;
* the counts: the hand-written fit numbers evaluated in this file,
  a + b ln(sigma) + c ln(atoms) rounded as max(1, floor(x + 0.5)).

End to end, a copy of the SiC model with a grouped reference (Python's
``write_reference(..., groups=...)``) exports to version 9, and the library
gives Python's group and Python's estimate, also from its own sigma.
"""

from __future__ import annotations

import ctypes
import dataclasses
import itertools
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.geometry import cellpar_to_cell
from test_library_support import cached_model, compile_fortran, needs_gfortran
from test_sic_vacancy import _stored_runs

from pyolcaoml.export import FORMAT_MAGIC, format_model
from pyolcaoml.library import LibraryError, LibraryModel, load_library
from pyolcaoml.model import load_model
from pyolcaoml.structure import BOHR_IN_ANGSTROM

REPO = Path(__file__).resolve().parent.parent
SIC = REPO / "data" / "sic"
SIC_MODEL = REPO / "data" / "sic_model"
EXAMPLES = REPO / "fortran" / "examples"
A_SIC = 4.36  # Å, the stored runs' 3C-SiC lattice constant
OK, ARGUMENT, NON_FINITE, LATTICE, FORMAT, ELEMENT, NULL, STATE = (
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    10,
)

#: A general block (version 8) and a group block (version 9) as the export
#: writes them; the numbers are made up, so that nothing here depends on a
#: shipped reference.
GENERAL = [
    "EXPECTED_ITERATIONS log_max_sigma_log_atoms 74 1 1.0000000000000000e-04",
    "ITERATIONS_FIT 2.5443057832197830e+01 5.4233700779462160e+00 "
    "4.5605397043373284e+00 -2.6460660099915509e+00 2.5818044962990570e+00",
    "DEFAULT_ITERATIONS_FIT 3.3873742157256643e+01 7.0910534830279124e+00 "
    "7.9694678837983357e+00 -4.5111217076225172e+00 4.7362393612878542e+00",
    "ITERATIONS_DOMAIN 3.7218452811096513e-03 1.0038666943606687e-02 8 17 1 1",
]
SI_VACANCY = "ITERATION_GROUP si_vacancy C 3 2.4500000000000002e+00 3 Si 28 0"
GROUP = [
    "ITERATION_GROUPS 1",
    SI_VACANCY,
    "ITERATIONS_FIT 4.1181717395226521e+01 6.0231406279814003e+00 "
    "9.5377312806541013e+00 -3.2649140120356063e+00 3.9154020196862215e+00",
    "DEFAULT_ITERATIONS_FIT 3.9402176011958931e+01 7.4404118950040418e+00 "
    "8.6061129834301466e+00 -2.7003515411744508e+00 2.2250916062400733e+00",
    "ITERATIONS_DOMAIN 4.4113196011412035e-03 9.8755220166010519e-03 31 63 1 1",
]


# -- the numbers, evaluated here ---------------------------------------------------
def _round(x: float) -> int:
    return max(1, math.floor(x + 0.5))


def _counts(record: str, sigma: float, atoms: int) -> tuple[int, int, int]:
    a, b, c, q_low, q_high = (float(v) for v in record.split()[1:])
    point = (a + b * math.log(sigma)) + c * math.log(atoms)
    return _round(point), _round(point + q_low), _round(point + q_high)


def answer(records: list[str], sigma: float, atoms: int):
    """((expected, low, high), default or None, outside) of one group's
    fit records (ITERATIONS_FIT, DEFAULT_ITERATIONS_FIT, ITERATIONS_DOMAIN)."""
    by_key = {r.split()[0]: r for r in records}
    dom = by_key["ITERATIONS_DOMAIN"].split()
    s_lo, s_hi, n_lo, n_hi = float(dom[1]), float(dom[2]), int(dom[3]), int(dom[4])
    outside = (dom[5] == "1" and not s_lo <= sigma <= s_hi) or (
        dom[6] == "1" and not n_lo <= atoms <= n_hi
    )
    default = by_key.get("DEFAULT_ITERATIONS_FIT")
    return (
        _counts(by_key["ITERATIONS_FIT"], sigma, atoms),
        None if default is None else _counts(default, sigma, atoms),
        outside,
    )


def group_block(rules: list[str], fits: list[str] = GROUP[2:]) -> list[str]:
    """ITERATION_GROUPS and, for each ITERATION_GROUP record, the fits."""
    out = [f"ITERATION_GROUPS {len(rules)}"]
    for rule in rules:
        out += [rule, *fits]
    return out


# -- a small Si + C ensemble file --------------------------------------------------
@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    return load_library()


@pytest.fixture(scope="module")
def small() -> dict:
    """The 30-feature test model's Si network twice (an ensemble of two, a
    unit GRAM), with C as a second descriptor element (no network; the
    descriptor has no chem blocks, so the features stay 30)."""
    lines = Path(cached_model()[1]).read_text().splitlines()
    start, stop = lines.index("NETWORK Si"), lines.index("END_NETWORK")
    n = int(lines[start + 1].split()[1])
    gram = [" ".join("1.0" if i == j else "0.0" for j in range(n)) for i in range(n)]
    net = lines[start : stop + 1]
    head = lines[1 : start - 1]
    k = head.index("DESCRIPTOR_ELEMENTS 1")
    head[k] = "DESCRIPTOR_ELEMENTS 2"
    head.insert(k + 2, "C 1.6090000000000000e+00 1.0000000000000000e+00")
    body = ["NUM_MEMBERS 2", "NUM_NETWORKS 2", *net, *net, "UNCERTAINTY Si"]
    body += ["SIGMA_SCALE 2.0", "SIGMA_FLOOR 1.0e-04", "GRAM", *gram]
    return {"middle": [*head, *body]}


def _file(small, groups: list[str], version: int = 9, general=GENERAL) -> str:
    lines = [f"OLCAOML_MODEL {version}", *small["middle"], *general, *groups, "END"]
    return "\n".join(lines) + "\n"


def _offset(small, general=GENERAL) -> int:
    """Lines before the group block."""
    return 1 + len(small["middle"]) + len(general)


def _load(lib, path: Path) -> tuple[int, str, int | None]:
    h = ctypes.c_void_p()
    buf = ctypes.create_string_buffer(1024)
    status = lib.olcaoml_model_load(str(path).encode(), ctypes.byref(h), buf, 1024)
    value = h.value
    if value:
        lib.olcaoml_model_free(ctypes.byref(h))
    return status, buf.value.decode(), value


@pytest.fixture(scope="module")
def small_oml(small, tmp_path_factory) -> dict[str, Path]:
    """name: a good small file (v9 with the si_vacancy group; v8; v7)."""
    folder = tmp_path_factory.mktemp("small")
    files = {
        "v9": _file(small, GROUP),
        "v8": _file(small, [], 8),
        "v7": _file(small, [], 7, ["HANDOVER_MEDIAN_SIGMA 3.3e-03"]),
    }
    out = {}
    for name, text in files.items():
        out[name] = folder / f"{name}.oml"
        out[name].write_text(text)
    return out


# -- structures --------------------------------------------------------------------
def _brute_counts(cell: np.ndarray, positions: np.ndarray, cutoff: float):
    """Each atom's neighbours (any element, every periodic image) strictly
    closer than cutoff, by trying every image that can reach it; also the
    smallest |distance - cutoff| met, to keep clear of the edge."""
    cell = np.asarray(cell, float)
    frac = np.asarray(positions, float) @ np.linalg.inv(cell)
    pos = (frac - np.floor(frac)) @ cell
    volume = abs(np.linalg.det(cell))
    heights = [
        volume / np.linalg.norm(np.cross(cell[i - 2], cell[i - 1])) for i in range(3)
    ]
    reach = [
        range(-(math.ceil(cutoff / h) + 1), math.ceil(cutoff / h) + 2) for h in heights
    ]
    shifts = np.array(list(itertools.product(*reach)), float) @ cell
    d = pos[None, :, None, :] + shifts[None, None] - pos[:, None, None, :]
    r = np.sqrt((d**2).sum(-1))
    counts = (r < cutoff).sum(axis=(1, 2)) - 1  # less the atom itself
    edge = float(np.min(np.abs(r[r > 0] - cutoff)))
    return counts, edge


def _rule_holds(rule: str, symbols, cell, positions) -> bool:
    """An ITERATION_GROUP record's rule, from brute-force counts."""
    _, _, element, nbrs, cutoff, min_atoms, requires, *_ = rule.split()
    symbols = np.asarray(symbols)
    if requires != "-" and requires not in symbols:
        return False
    counts, edge = _brute_counts(cell, positions, float(cutoff))
    assert edge > 1e-6, "an atom at the cutoff: choose another structure"
    return int(np.sum((symbols == element) & (counts == int(nbrs)))) >= int(min_atoms)


def _lib_group(m: LibraryModel, cell_a, positions_a, symbols, n_threads=0) -> int:
    """The library's group of a structure given in Å (passed in Bohr)."""
    el = m.element_indices(list(symbols))
    cell = np.asarray(cell_a, float) / BOHR_IN_ANGSTROM
    pos = np.asarray(positions_a, float) / BOHR_IN_ANGSTROM
    return m.iteration_group(cell, pos, el, n_threads)


def _crystal(reps=(1, 1, 1)):
    return bulk("SiC", "zincblende", a=A_SIC, cubic=True).repeat(reps)


@pytest.fixture(scope="module")
def stored() -> list[tuple[Path, str | None, object, object]]:
    """(folder, label, structure (Å), structure.dat (Bohr)) of each run."""
    from pyolcaoml.olcao import read_run

    out = []
    for run, label in _stored_runs():
        r = read_run(run)
        out.append((run, label, r.structure, r.structure_dat))
    return out


# -- the file ----------------------------------------------------------------------
def test_a_version_9_file_loads_with_its_groups(small_oml):
    with LibraryModel(small_oml["v9"]) as m:
        assert m.num_iteration_groups() == 1
        assert m.iteration_group_name(0) == "general"
        assert m.iteration_group_name(1) == "si_vacancy"
        for g in (-1, 2):
            with pytest.raises(LibraryError, match="group: .* is outside 0..1"):
                m.iteration_group_name(g)


def test_version_8_and_7_files_load_as_before(small_oml):
    """No groups: 0 of them, every structure in group 0, group 1 refused."""
    atoms = _crystal()
    del atoms[next(i for i, a in enumerate(atoms) if a.symbol == "Si")]
    for name in ("v8", "v7"):
        with LibraryModel(small_oml[name]) as m:
            assert m.num_iteration_groups() == 0
            assert m.iteration_group_name(0) == "general"
            g = _lib_group(m, atoms.cell, atoms.positions, atoms.get_chemical_symbols())
            assert g == 0
            with pytest.raises(LibraryError, match="group: 1 is outside 0..0"):
                m.expected_iterations(31, 5e-3, group=1)
    with LibraryModel(small_oml["v8"]) as m:
        assert m.expected_iterations(12, 5e-3) == answer(GENERAL[1:], 5e-3, 12)
    with LibraryModel(small_oml["v7"]) as m:
        assert m.expected_iterations(12, 5e-3) is None


def test_many_groups_a_long_name_and_no_required_element(small, tmp_path):
    """Eight groups (the most), a 32-letter name, '-' for no required
    element, lower-case symbols and a group without the default fit."""
    name32 = "g" * 32
    rules = [SI_VACANCY.replace("si_vacancy", f"rule{k}") for k in range(7)]
    rules.append(f"ITERATION_GROUP {name32} c 3 2.45 3 - 5 5")
    block = group_block(rules)
    no_default = [ln for ln in GROUP[2:] if not ln.startswith("DEFAULT_")]
    block[-3:] = no_default
    path = tmp_path / "eight.oml"
    path.write_text(_file(small, block))
    with LibraryModel(path) as m:
        assert m.num_iteration_groups() == 8
        assert [m.iteration_group_name(g) for g in range(9)] == [
            "general",
            *(f"rule{k}" for k in range(7)),
            name32,
        ]
        got = m.expected_iterations(31, 5e-3, group=8)
        assert got == answer(no_default, 5e-3, 31) and got[1] is None
        assert m.expected_iterations(31, 5e-3, group=3) == answer(GROUP[2:], 5e-3, 31)


def _word(block: list[str], i: int, k: int, value: str) -> list[str]:
    """The block with word k of line i replaced by value ('' drops it)."""
    out = list(block)
    words = out[i].split()
    words[k] = value
    out[i] = " ".join(w for w in words if w)
    return out


_RECORD = (
    'expected "ITERATION_GROUP name element neighbours cutoff minAtoms '
    'requires numCells numNotConverged", got "'
)
_NAME = "ITERATION_GROUP: the name "
_CUTOFF = (
    "ITERATION_GROUP si_vacancy: the cutoff must be a length in (0, 10] (Angstrom)"
)
_CELLS = "ITERATION_GROUP si_vacancy: need 1 <= numCells and 0 <= numNotConverged"
_TWICE = group_block([SI_VACANCY, SI_VACANCY])
#: case: (the group block made from the good one, the index in it of the
#: line the message must name (None: END), what the message must say)
FAULTS = {
    "no block": (lambda b: [], None, 'expected ITERATION_GROUPS, got "END"'),
    "no count record": (
        lambda b: b[1:],
        0,
        'expected ITERATION_GROUPS, got "ITERATION_GROUP si_vacancy',
    ),
    "zero groups": (
        lambda b: _word(b, 0, 1, "0"),
        0,
        "ITERATION_GROUPS must be at least 1, got 0",
    ),
    "nine groups": (
        lambda b: _word(b, 0, 1, "9"),
        0,
        "ITERATION_GROUPS must be at most 8, got 9",
    ),
    "count not a number": (
        lambda b: _word(b, 0, 1, "one"),
        0,
        "expected an integer after ITERATION_GROUPS",
    ),
    "two counts": (
        lambda b: _word(b, 0, 1, "1 1"),
        0,
        'expected "ITERATION_GROUPS n" (1 to 8 groups), got "1 1"',
    ),
    "fewer groups than counted": (
        lambda b: _word(b, 0, 1, "2"),
        None,
        'expected ITERATION_GROUP, got "END"',
    ),
    "more groups than counted": (
        lambda b: [*_word(_TWICE, 0, 1, "1")[:5], *GROUP[1:]],
        5,
        'expected END, got "ITERATION_GROUP si_vacancy',
    ),
    "a name given twice": (lambda b: _TWICE, 5, _NAME + '"si_vacancy" is given twice'),
    "seven words": (lambda b: _word(b, 1, 8, ""), 1, _RECORD + "si_vacancy C 3"),
    "nine words": (lambda b: _word(b, 1, 8, "0 0"), 1, _RECORD + "si_vacancy C 3"),
    "neighbours not an integer": (lambda b: _word(b, 1, 3, "3.5"), 1, _RECORD),
    "cutoff not a number": (lambda b: _word(b, 1, 4, "near"), 1, _RECORD),
    "a slash": (lambda b: _word(b, 1, 8, "/"), 1, _RECORD),
    "a repeat count": (lambda b: _word(b, 1, 3, "2*3"), 1, _RECORD),
    "a name too long": (
        lambda b: _word(b, 1, 1, "g" * 33),
        1,
        _NAME + f'"{"g" * 33}" must be a word of at most 32 letters, digits or _',
    ),
    "the name general": (
        lambda b: _word(b, 1, 1, "general"),
        1,
        _NAME + '"general" must be a word',
    ),
    "a name beginning with a digit": (
        lambda b: _word(b, 1, 1, "3fold"),
        1,
        _NAME + '"3fold" must be a word',
    ),
    "a name with a hyphen": (
        lambda b: _word(b, 1, 1, "si-vacancy"),
        1,
        _NAME + '"si-vacancy" must be a word',
    ),
    "an element the model lacks": (
        lambda b: _word(b, 1, 2, "Fe"),
        1,
        'ITERATION_GROUP si_vacancy: element "Fe" is not a descriptor element',
    ),
    "no element": (
        lambda b: _word(b, 1, 2, "-"),
        1,
        'ITERATION_GROUP si_vacancy: element "-" is not a descriptor element',
    ),
    "negative neighbours": (
        lambda b: _word(b, 1, 3, "-1"),
        1,
        "ITERATION_GROUP si_vacancy: neighbours must be an integer >= 0, got -1",
    ),
    "zero cutoff": (lambda b: _word(b, 1, 4, "0.0"), 1, _CUTOFF),
    "negative cutoff": (lambda b: _word(b, 1, 4, "-2.45"), 1, _CUTOFF),
    "nan cutoff": (lambda b: _word(b, 1, 4, "NaN"), 1, _CUTOFF),
    "infinite cutoff": (lambda b: _word(b, 1, 4, "Infinity"), 1, _CUTOFF),
    # Python's IterationGroup refuses the same (0, 10] Angstrom
    "cutoff past 10 Angstrom": (lambda b: _word(b, 1, 4, "10.000001"), 1, _CUTOFF),
    "no atoms": (
        lambda b: _word(b, 1, 5, "0"),
        1,
        "ITERATION_GROUP si_vacancy: minAtoms must be an integer >= 1, got 0",
    ),
    "a required element the model lacks": (
        lambda b: _word(b, 1, 6, "Ge"),
        1,
        'ITERATION_GROUP si_vacancy: requires "Ge" is neither a descriptor '
        'element nor "-" (none)',
    ),
    "no reference runs": (
        lambda b: _word(_word(b, 1, 7, "0"), 1, 8, "0"),
        1,
        _CELLS + " <= numCells, got 0 and 0",
    ),
    "more not converged than runs": (
        lambda b: _word(b, 1, 8, "29"),
        1,
        _CELLS + " <= numCells, got 28 and 29",
    ),
    "negative not converged": (
        lambda b: _word(b, 1, 8, "-1"),
        1,
        _CELLS + " <= numCells, got 28 and -1",
    ),
    "no fits": (lambda b: b[:2], None, 'expected ITERATIONS_FIT, got "END"'),
    "the group's fit missing": (
        lambda b: [*b[:2], *b[3:]],
        2,
        'expected ITERATIONS_FIT, got "DEFAULT_ITERATIONS_FIT',
    ),
    "nan in the group's fit": (
        lambda b: _word(b, 2, 1, "NaN"),
        2,
        "ITERATIONS_FIT must be five finite numbers",
    ),
    "qLow above qHigh in the group's default fit": (
        lambda b: _word(b, 3, 4, "9.0"),
        3,
        "DEFAULT_ITERATIONS_FIT: need qLow <= qHigh",
    ),
    "the group's ranges missing": (
        lambda b: b[:-1],
        None,
        'expected ITERATIONS_DOMAIN, got "END"',
    ),
    "the group's sigma range reversed": (
        lambda b: _word(_word(b, 4, 1, b[4].split()[2]), 4, 2, b[4].split()[1]),
        4,
        "ITERATIONS_DOMAIN: need 0 < sigmaMin <= sigmaMax < 1 (Hartree)",
    ),
    "the group's atoms flag off for the size predictor": (
        lambda b: _word(b, 4, 6, "0"),
        4,
        "ITERATIONS_DOMAIN: the ranges that apply (the last two numbers) must "
        "be 1 1 for predictor log_max_sigma_log_atoms",
    ),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_a_damaged_group_block_is_a_format_error_naming_its_line(
    lib, small, tmp_path, case
):
    make, index, fragment = FAULTS[case]
    block = make(list(GROUP))
    assert block != GROUP
    text = _file(small, block)
    line = _offset(small) + (len(block) if index is None else index) + 1
    assert text.splitlines()[line - 1].split()[0] == (
        "END" if index is None else block[index].split()[0]
    )
    bad = tmp_path / "bad.oml"
    bad.write_text(text)
    status, msg, h = _load(lib, bad)
    assert status == FORMAT and h is None, msg
    assert f"bad.oml, line {line}: {fragment}" in msg, msg


@pytest.mark.parametrize("version", [8, 7, 2])
def test_groups_in_an_older_version_are_a_format_error(lib, small, tmp_path, version):
    """Version 8 (after its block), 7 (after its handover threshold, in
    place of the block), 2 (at the end): named as needing version 9."""
    general = {8: GENERAL, 7: ["HANDOVER_MEDIAN_SIGMA 3.3e-03"], 2: []}[version]
    text = _file(small, GROUP, version, general)
    bad = tmp_path / "bad.oml"
    bad.write_text(text)
    status, msg, h = _load(lib, bad)
    assert status == FORMAT and h is None, msg
    line = _offset(small, general) + 1
    assert text.splitlines()[line - 1] == "ITERATION_GROUPS 1"
    assert (
        f"bad.oml, line {line}: ITERATION_GROUPS needs format version 9, "
        f"the file says {version}"
    ) in msg, msg


# -- the group of a structure ------------------------------------------------------
@pytest.fixture(scope="module")
def sic_v9(tmp_path_factory) -> Path:
    """The bundled SiC model's own export with the si_vacancy block
    appended by hand (any groups of its reference taken out first)."""
    lines = format_model(load_model(SIC_MODEL)).splitlines()
    assert lines[-1] == "END"
    starts = [i for i, ln in enumerate(lines) if ln.startswith("ITERATION_GROUPS ")]
    lines = lines[: (starts or [-1])[0]]
    assert lines[0] in (f"{FORMAT_MAGIC} 8", f"{FORMAT_MAGIC} 9")
    assert lines[-1].startswith("ITERATIONS_DOMAIN ")
    lines[0] = f"{FORMAT_MAGIC} 9"
    path = tmp_path_factory.mktemp("sic") / "sic_v9.oml"
    path.write_text("\n".join([*lines, *GROUP, "END"]) + "\n")
    return path


def test_the_stored_runs_si_vacancies_and_only_they_are_group_1(sic_v9, stored):
    """On every stored near-crystalline SiC run (7 to 63 atoms, rattled by
    up to 0.25 Å), against the defect label of its meta.json."""
    with LibraryModel(sic_v9) as m:
        assert m.elements == ("Si", "C")
        assert m.num_iteration_groups() == 1
        got = {}
        for run, label, _, sd in stored:
            el = m.element_indices(sd.atom_elements)
            got[run] = (
                m.iteration_group(sd.cell_bohr, sd.atom_positions_bohr, el),
                label,
            )
    labels = [label for _, label in got.values()]
    assert len(got) > 300 and labels.count("vacSi") > 50
    assert {g for g, _ in got.values()} == {0, 1}
    wrong = [
        (r.name, g, label)
        for r, (g, label) in got.items()
        if (g == 1) != (label == "vacSi")
    ]
    assert wrong == []


#: Four rules in order: three-fold Si (a C vacancy leaves four), three-fold
#: C (a Si vacancy), a Si atom with five neighbours within 2.6 Å (around
#: interstitials; no element required), five C atoms with four neighbours
#: within 2.0 Å (many cells of every kind).  A structure takes the first.
RULES = [
    "ITERATION_GROUP c_vacancy Si 3 2.4500000000000002e+00 3 C 10 0",
    SI_VACANCY,
    "ITERATION_GROUP crowded Si 5 2.6000000000000001e+00 1 - 10 0",
    "ITERATION_GROUP bonded C 4 2.0000000000000000e+00 5 - 10 0",
]


@pytest.fixture(scope="module")
def four_rules(small, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.oml"
    path.write_text(_file(small, group_block(RULES)))
    return path


def _first_rule(rules, symbols, cell, positions) -> int:
    return next(
        (
            k + 1
            for k, r in enumerate(rules)
            if _rule_holds(r, symbols, cell, positions)
        ),
        0,
    )


def test_the_stored_runs_groups_agree_with_brute_force_counts(four_rules, stored):
    """Each stored run's group under four rules (first match wins) is the
    one that brute-force neighbour counts give; every group is met."""
    seen = set()
    with LibraryModel(four_rules) as m:
        for run, label, s, sd in stored:
            el = m.element_indices(sd.atom_elements)
            g = m.iteration_group(sd.cell_bohr, sd.atom_positions_bohr, el)
            want = _first_rule(RULES, s.symbols, s.cell, s.positions)
            assert g == want, (run.name, label)
            seen.add(g)
    assert seen == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("remove", "group"),
    [(None, 0), ("Si", 1), ("C", 0)],
)
def test_an_8_atom_cell_with_and_without_a_si_atom(small_oml, remove, group):
    """3C-SiC's cubic cell (8 atoms, a = 4.36 Å): without a Si atom its
    four C neighbours keep three bonds each; without a C atom, or whole,
    no C atom is three-fold."""
    atoms = _crystal()
    if remove:
        del atoms[next(i for i, a in enumerate(atoms) if a.symbol == remove)]
    symbols = atoms.get_chemical_symbols()
    assert _first_rule([SI_VACANCY], symbols, atoms.cell, atoms.positions) == group
    with LibraryModel(small_oml["v9"]) as m:
        assert _lib_group(m, atoms.cell, atoms.positions, symbols) == group
        assert _lib_group(m, atoms.cell, atoms.positions, symbols, 1) == group


def test_min_atoms_and_the_required_element(small, tmp_path):
    """The 7-atom cell has exactly four three-fold C atoms: four are enough,
    five are not; C alone (diamond without an atom) matches only a rule
    that requires nothing."""
    atoms = _crystal()
    del atoms[next(i for i, a in enumerate(atoms) if a.symbol == "Si")]
    diamond = bulk("C", "diamond", a=3.567, cubic=True)
    del diamond[0]
    rules = [
        "ITERATION_GROUP five C 3 2.45 5 Si 5 0",
        "ITERATION_GROUP four C 3 2.45 4 Si 5 0",
    ]
    bare = ["ITERATION_GROUP anywhere C 3 1.7 4 - 5 0"]
    for rule_set, structure, want in (
        (rules, atoms, 2),
        (rules[:1], atoms, 0),
        (rules, diamond, 0),
        (rules + bare, diamond, 3),
    ):
        path = tmp_path / "rules.oml"
        path.write_text(_file(small, group_block(rule_set)))
        symbols = structure.get_chemical_symbols()
        cell, pos = structure.cell, structure.positions
        assert _first_rule(rule_set, symbols, cell, pos) == want
        with LibraryModel(path) as m:
            assert _lib_group(m, cell, pos, symbols) == want


@pytest.mark.parametrize(
    ("a", "neighbours", "group"),
    [
        (2.0, 6, 1),  # six images at 2.0 Å, twelve at 2.83 (beyond)
        (2.0, 18, 0),
        (1.5, 18, 1),  # six at 1.5 Å and twelve at 2.12 Å
        (1.5, 6, 0),
        (2.5, 0, 1),  # the nearest image at 2.5 Å: none within 2.45
    ],
)
def test_cells_thinner_than_the_cutoff_count_their_images(
    small, tmp_path, a, neighbours, group
):
    """One C atom in a simple cubic cell of side a < 2.45 Å: its neighbours
    are its own periodic images."""
    rule = f"ITERATION_GROUP images C {neighbours} 2.45 1 - 5 0"
    path = tmp_path / "thin.oml"
    path.write_text(_file(small, group_block([rule])))
    cell, pos = np.eye(3) * a, np.zeros((1, 3))
    assert _first_rule([rule], ["C"], cell, pos) == group
    with LibraryModel(path) as m:
        assert _lib_group(m, cell, pos, ["C"]) == group


def test_small_skewed_cells_count_as_brute_force(small, tmp_path):
    """Random triclinic cells of 2-5 atoms, 1.6-3.2 Å sides and 60-120
    degree angles (thinner than the cutoff in some directions), random
    cutoffs: for every count k met among the C atoms, the m atoms with k
    neighbours match minAtoms m and not m + 1."""
    rng = np.random.default_rng(5505)
    checked = 0
    for _ in range(40):
        n = int(rng.integers(2, 6))
        cellpar = [*rng.uniform(1.6, 3.2, 3), *rng.uniform(60, 120, 3)]
        cell = cellpar_to_cell(cellpar)
        if not np.all(np.isfinite(cell)) or abs(np.linalg.det(cell)) < 1.0:
            continue
        pos = rng.uniform(0, 1, (n, 3)) @ cell
        symbols = ["C" if k % 2 == 0 else "Si" for k in range(n)]
        cutoff = float(rng.uniform(1.0, 3.5))
        counts, edge = _brute_counts(cell, pos, cutoff)
        if edge < 1e-6:
            continue
        c_counts = counts[np.array(symbols) == "C"]
        rules = []
        for k in sorted(set(c_counts.tolist())):
            m_k = int(np.sum(c_counts == k))
            rules += [
                f"ITERATION_GROUP too_many C {k} {cutoff!r} {m_k + 1} - 5 0",
                f"ITERATION_GROUP exact C {k} {cutoff!r} {m_k} - 5 0",
            ]
            path = tmp_path / "skew.oml"
            path.write_text(_file(small, group_block(rules[-2:])))
            with LibraryModel(path) as m:
                assert _lib_group(m, cell, pos, symbols) == 2, (k, counts)
            checked += 1
    assert checked > 30


# -- arguments ---------------------------------------------------------------------
def _raw_group(lib, handle, cell, n, pos, el, threads=0, group_out=True, buf=True):
    group = ctypes.c_int(7)
    message = ctypes.create_string_buffer(512)
    status = lib.olcaoml_iteration_group(
        handle,
        None if cell is None else cell.ctypes.data,
        n,
        None if pos is None else pos.ctypes.data,
        None if el is None else el.ctypes.data,
        threads,
        ctypes.byref(group) if group_out else None,
        message if buf else None,
        512 if buf else 0,
    )
    return status, group.value, message.value.decode()


def test_bad_structures_are_refused_and_give_minus_one(lib, small_oml):
    """Checked for a model with groups and without: the element indices,
    NaN, a singular cell, the thread count, the counts and NULL pointers;
    *group is -1 after a failure."""
    atoms = _crystal()
    cell = np.ascontiguousarray(np.asarray(atoms.cell) / BOHR_IN_ANGSTROM)
    pos = np.ascontiguousarray(atoms.positions / BOHR_IN_ANGSTROM)
    for name in ("v9", "v8"):
        with LibraryModel(small_oml[name]) as m:
            h = m.handle
            el = m.element_indices(atoms.get_chemical_symbols())
            assert _raw_group(lib, h, cell, 8, pos, el) == (OK, 0, "")
            assert _raw_group(lib, h, cell, 8, pos, el, 2)[:2] == (OK, 0)
            for bad in (0, 3):
                el2 = el.copy()
                el2[5] = bad
                status, g, msg = _raw_group(lib, h, cell, 8, pos, el2)
                assert (status, g) == (ELEMENT, -1), msg
                assert f"element_of: atom 6 has element index {bad}" in msg
            pos2 = pos.copy()
            pos2[3, 1] = np.nan
            status, g, msg = _raw_group(lib, h, cell, 8, pos2, el)
            assert (status, g) == (NON_FINITE, -1) and "positions" in msg, msg
            flat = cell.copy()
            flat[2] = flat[0] + flat[1]
            assert _raw_group(lib, h, flat, 8, pos, el)[:2] == (LATTICE, -1)
            status, g, msg = _raw_group(lib, h, cell, 8, pos, el, 2000)
            assert (status, g) == (ARGUMENT, -1) and "num_threads: 2000" in msg
            status, g, msg = _raw_group(lib, h, cell, 0, pos, el)
            assert (status, g) == (ARGUMENT, -1) and "num_atoms" in msg
            for args, what in (
                ((None, 8, pos, el), "real_vectors"),
                ((cell, 8, None, el), "positions"),
                ((cell, 8, pos, None), "element_of"),
            ):
                status, g, msg = _raw_group(lib, h, *args)
                assert (status, g) == (NULL, -1) and what in msg, msg
            status, _, msg = _raw_group(lib, h, cell, 8, pos, el, group_out=False)
            assert status == NULL and "group" in msg
            assert _raw_group(lib, h, cell, 8, pos, el, buf=False)[:2] == (OK, 0)
            with pytest.raises(LibraryError, match="OLCAOML_ERR_ELEMENT"):
                m.iteration_group(cell, pos, np.zeros(8, np.int32))
    h = ctypes.c_void_p()
    assert (
        lib.olcaoml_model_load(str(small_oml["v9"]).encode(), ctypes.byref(h), None, 0)
        == OK
    )
    freed = ctypes.c_void_p(h.value)
    assert lib.olcaoml_model_free(ctypes.byref(h)) == OK
    el = np.array([1, 1, 1, 1, 2, 2, 2, 2], np.int32)
    status, g, msg = _raw_group(lib, freed, cell, 8, pos, el)
    assert (status, g) == (STATE, -1) and "freed" in msg
    assert _raw_group(lib, None, cell, 8, pos, el)[:2] == (NULL, -1)


def test_the_group_name_buffer(lib, small_oml):
    with LibraryModel(small_oml["v9"]) as m:
        call = lib.olcaoml_iteration_group_name
        buf = ctypes.create_string_buffer(512)
        name = ctypes.create_string_buffer(b"xxxxxxxxxxxxxxxx")
        assert (
            call(m.handle, 1, name, 11, buf, 512) == OK and name.value == b"si_vacancy"
        )
        assert call(m.handle, 0, name, 8, buf, 512) == OK and name.value == b"general"
        assert call(m.handle, 1, name, 10, buf, 512) == ARGUMENT
        assert name.value == b"" and "name_len: 10 is too small" in buf.value.decode()
        name.value = b"xxxx"
        assert call(m.handle, 2, name, 16, buf, 512) == ARGUMENT and name.value == b""
        assert "group: 2 is outside 0..1" in buf.value.decode()
        assert call(m.handle, 1, None, 16, buf, 512) == NULL
        assert call(m.handle, 1, name, 0, buf, 512) == ARGUMENT
        n = ctypes.c_int(7)
        assert (
            lib.olcaoml_num_iteration_groups(m.handle, ctypes.byref(n), buf, 512) == OK
        )
        assert n.value == 1
        assert lib.olcaoml_num_iteration_groups(m.handle, None, buf, 512) == NULL
        assert lib.olcaoml_num_iteration_groups(None, ctypes.byref(n), buf, 512) == NULL


# -- the counts --------------------------------------------------------------------
def _raw_counts(lib, handle, group, atoms, sigma, outputs=(True, True, True)):
    expected = (ctypes.c_int * 3)(7, 7, 7)
    default = (ctypes.c_int * 3)(7, 7, 7)
    outside = ctypes.c_int(7)
    buf = ctypes.create_string_buffer(512)
    e, d, o = outputs
    status = lib.olcaoml_expected_iterations_in_group(
        handle, group, atoms, sigma,
        expected if e else None, default if d else None,
        ctypes.byref(outside) if o else None, buf, 512,
    )  # fmt: skip
    return status, list(expected), list(default), outside.value, buf.value.decode()


SIGMAS = (
    1e-4,
    3.7218452811096513e-03,
    4.4113196011412035e-03,
    6e-3,
    9.8755220166010519e-03,
    0.02,
)
ATOMS = (1, 8, 17, 30, 31, 63, 64, 1000)


def test_each_group_gives_its_own_fit_evaluated_here(lib, small_oml):
    """Group 1 gives its block's numbers, group 0 the general block's (the
    same as olcaoml_expected_iterations), inside and outside each group's
    ranges."""
    with LibraryModel(small_oml["v9"]) as m:
        flags = set()
        for sigma, atoms in itertools.product(SIGMAS, ATOMS):
            assert m.expected_iterations(atoms, sigma, group=1) == answer(
                GROUP[2:], sigma, atoms
            )
            general = m.expected_iterations(atoms, sigma)
            assert general == answer(GENERAL[1:], sigma, atoms)
            assert m.expected_iterations(atoms, sigma, group=0) == general
            flags.add((general[2], m.expected_iterations(atoms, sigma, group=1)[2]))
            expected = (ctypes.c_int * 3)()
            default = (ctypes.c_int * 3)()
            outside = ctypes.c_int()
            status = lib.olcaoml_expected_iterations(
                m.handle,
                atoms,
                sigma,
                expected,
                default,
                ctypes.byref(outside),
                None,
                0,
            )
            assert status == OK
            assert (tuple(expected), tuple(default), bool(outside.value)) == general
        # the two groups' sizes do not overlap (8-17 and 31-63 atoms): a
        # structure lies outside one or both
        assert flags == {(True, True), (True, False), (False, True)}


def test_a_group_outside_the_model_is_refused(lib, small_oml):
    """-1 (a failed olcaoml_iteration_group), n + 1 and beyond, whether the
    model has numbers or not: -1 everywhere and outside 0."""
    for name, n in (("v9", 1), ("v8", 0), ("v7", 0)):
        with LibraryModel(small_oml[name]) as m:
            for group in (-1, n + 1, 1000):
                status, e, d, o, msg = _raw_counts(lib, m.handle, group, 31, 5e-3)
                assert (status, e, d, o) == (ARGUMENT, [-1] * 3, [-1] * 3, 0)
                assert f"group: {group} is outside 0..{n}" in msg, msg
    with LibraryModel(small_oml["v7"]) as m:
        # no numbers: group 0 is OK and empty whatever the other arguments
        got = _raw_counts(lib, m.handle, 0, 0, float("nan"))
        assert got[:4] == (OK, [-1] * 3, [-1] * 3, 0)


def test_bad_counts_arguments_in_a_group(lib, small_oml):
    with LibraryModel(small_oml["v9"]) as m:
        h = m.handle
        for atoms, sigma, what in (
            (0, 5e-3, "num_atoms: must be at least 1, got 0"),
            (31, float("nan"), "max_sigma_hartree: must be a finite number > 0"),
            (31, 0.0, "max_sigma_hartree: must be a finite number > 0"),
        ):
            status, e, d, o, msg = _raw_counts(lib, h, 1, atoms, sigma)
            assert (status, e, d, o) == (
                ARGUMENT,
                [-1] * 3,
                [-1] * 3,
                0,
            ) and what in msg
        for k, what in enumerate(("expected", "default_expected", "outside")):
            outputs = [True] * 3
            outputs[k] = False
            status, *_, msg = _raw_counts(lib, h, 1, 31, 5e-3, tuple(outputs))
            assert status == NULL and what in msg
        assert _raw_counts(lib, None, 1, 31, 5e-3)[0] == NULL


# -- Fortran -----------------------------------------------------------------------
FORTRAN = """\
program groups
   use OML_Library
   implicit none
   type (OML_ModelType) :: model
   character (len=omlMessageLen) :: message
   character (len=4096) :: path
   real (kind=omlDouble) :: realVectors(3,3), positions(3,7)
   integer :: status, group, expected(3), defaultExpected(3), elementOf(7)
   logical :: outside
   call get_command_argument (1, path)
   call omlLoadModel (model, trim(path), status, message)
   if (status /= omlSuccess) error stop 1
   read (*, *) realVectors, positions, elementOf
   write (*, '(i0,1x,a,1x,a)') omlNumIterationGroups(model), &
         & trim(omlIterationGroupName(model, 0)), &
         & trim(omlIterationGroupName(model, 1))
   call omlIterationGroup (model, realVectors, positions, elementOf, 1, &
         & group, status, message)
   write (*, '(i0,1x,i0)') status, group
   call omlExpectedIterationsInGroup (model, group, 31, 6.0e-3_omlDouble, &
         & expected, defaultExpected, outside, status, message)
   write (*, '(i0,6(1x,i0),1x,l1)') status, expected, defaultExpected, outside
   call omlExpectedIterationsInGroup (model, 2, 31, 6.0e-3_omlDouble, &
         & expected, defaultExpected, outside, status, message)
   write (*, '(i0,1x,a)') status, trim(message)
   call omlFreeModel (model)
end program groups
"""


@needs_gfortran
def test_the_fortran_interface(small_oml, tmp_path):
    """use OML_Library: the four routines, on the 7-atom Si vacancy cell."""
    source = tmp_path / "groups.f90"
    source.write_text(FORTRAN)
    exe = tmp_path / "groups"
    done = compile_fortran(source, exe)
    assert done.returncode == 0, done.stderr
    atoms = _crystal()
    del atoms[next(i for i, a in enumerate(atoms) if a.symbol == "Si")]
    el = [1 if s == "Si" else 2 for s in atoms.get_chemical_symbols()]
    numbers = [
        *(np.asarray(atoms.cell) / BOHR_IN_ANGSTROM).ravel(),
        *(atoms.positions / BOHR_IN_ANGSTROM).ravel(),
    ]
    stdin = " ".join(repr(float(v)) for v in numbers) + " " + " ".join(map(str, el))
    out = subprocess.run(
        [str(exe), str(small_oml["v9"])], input=stdin, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "1 general si_vacancy"
    assert lines[1] == "0 1"
    counts, default, outside = answer(GROUP[2:], 6.0e-3, 31)
    assert lines[2].split() == [
        "0",
        *map(str, counts),
        *map(str, default),
        "TF"[not outside],
    ]
    assert lines[3] == "1 group: 2 is outside 0..1 (the model's iteration groups)"


# -- end to end with Python --------------------------------------------------------
@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """A copy of the SiC model whose reference declares the si_vacancy
    group (its Si-vacancy cells, by their runs' names, in the group),
    exported by Python: (model directory, its .oml, Python's reference)."""
    from pyolcaoml.model.olcao_iterations import (
        IterationGroup,
        load_reference,
        write_reference,
    )

    copy = tmp_path_factory.mktemp("grouped") / "sic_model"
    shutil.copytree(SIC_MODEL, copy, ignore=shutil.ignore_patterns("*.keras"))
    ref = load_reference(SIC_MODEL)
    rule = IterationGroup("si_vacancy", "C", 3, 2.45, 3, "Si")
    cells = [
        dataclasses.replace(c, group="si_vacancy" if "_vacSi_" in c.run else None)
        for c in ref.cells
    ]
    assert sum(c.group is not None for c in cells) >= 5
    write_reference(copy, cells, ref.predictor, ref.convergence, groups=(rule,))
    oml = copy.parent / "grouped.oml"
    oml.write_text(format_model(load_model(copy)))
    new = load_reference(copy)
    assert new.groups == (rule,)
    return copy, oml, new


def test_the_export_is_version_9_and_the_library_gives_pythons_groups(grouped, stored):
    """Version 9; on the stored runs (every Si vacancy, a few of each other
    defect) and ASE's 8-atom cells the library's group is Python's
    group_of, and for a range of sigmas and sizes its counts are Python's
    estimate for that group."""
    directory, oml, ref = grouped
    assert oml.read_text().splitlines()[0] == f"{FORMAT_MAGIC} 9"
    chosen, per_label = [], {}
    for run, label, s, sd in stored:
        per_label.setdefault(label, 0)
        if label == "vacSi" or per_label[label] < 3:
            per_label[label] += 1
            chosen.append(
                (run.name, s, sd.cell_bohr, sd.atom_positions_bohr, sd.atom_elements)
            )
    for remove in (None, "Si"):
        atoms = _crystal()
        if remove:
            del atoms[next(i for i, a in enumerate(atoms) if a.symbol == remove)]
        from pyolcaoml.structure import Structure

        s = Structure.coerce(atoms)
        chosen.append(
            (f"ase-{remove}", s, np.asarray(atoms.cell) / BOHR_IN_ANGSTROM,
             atoms.positions / BOHR_IN_ANGSTROM, atoms.get_chemical_symbols())
        )  # fmt: skip
    groups = set()
    with LibraryModel(oml) as m:
        assert m.num_iteration_groups() == 1
        for name, s, cell, pos, symbols in chosen:
            g = m.iteration_group(cell, pos, m.element_indices(symbols))
            py = ref.group_of(s)
            assert m.iteration_group_name(g) == (py or "general"), name
            groups.add(g)
            for sigma, atoms in itertools.product(
                (2e-3, 5e-3, 8e-3, 3e-2), (8, 31, len(s))
            ):
                est = ref.estimate(sigma, atoms, group=py)
                want = (
                    (est.iterations, est.low, est.high),
                    est.default,
                    est.extrapolated,
                )
                assert m.expected_iterations(atoms, sigma, group=g) == want, (
                    name,
                    sigma,
                )
    assert groups == {0, 1}


@pytest.mark.parametrize(
    "run", ["sic32_vacSi_r0.05_seed14044", "sic32_vacC_r0.05_seed14045"]
)
def test_from_the_librarys_own_sigma_like_olcaoml_predict(grouped, run):
    """The library predicts the cell, finds its group and gives the
    estimate that Python's prediction of the same cell gives."""
    from pyolcaoml.olcao import read_run
    from pyolcaoml.predict import predict

    directory, oml, _ = grouped
    r = read_run(SIC / "test_runs_stop53" / "defect" / run)
    sd = r.structure_dat
    est = predict(r.structure, load_model(directory)).expected_iterations()
    assert est is not None
    assert (est.group is not None) == ("_vacSi_" in run)
    with LibraryModel(oml) as m:
        el = m.element_indices(sd.atom_elements)
        _, sigma = m.predict_ensemble(sd.cell_bohr, sd.atom_positions_bohr, el)
        g = m.iteration_group(sd.cell_bohr, sd.atom_positions_bohr, el)
        got = m.expected_iterations(len(sigma), float(sigma.max()), group=g)
    assert g == (1 if "_vacSi_" in run else 0)
    assert got == ((est.iterations, est.low, est.high), est.default, est.extrapolated)


# -- the example OLCAO host -----------------------------------------------------------
@pytest.fixture(scope="module")
def example_exe(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("example") / "predict_scfv"
    done = compile_fortran(EXAMPLES / "predict_scfv.f90", exe)
    assert done.returncode == 0, done.stderr
    return exe


@needs_gfortran
@pytest.mark.parametrize(
    ("run", "group"),
    [
        ("test_runs_stop53/defect/sic32_vacSi_r0.05_seed14044", "si_vacancy"),
        ("test_runs_stop53/defect/sic32_vacC_r0.05_seed14045", None),
    ],
)
def test_the_fortran_example_prints_the_groups_estimate(
    grouped, example_exe, tmp_path, capsys, run, group
):
    """fortran/examples/predict_scfv.f90 (what OLCAO would call) picks the
    structure's group and prints the counts 'olcaoml predict' prints for
    the same run with the same grouped model (its reference split by the
    defect label in each cell's run name)."""
    from test_library_example import copy_run_inputs
    from test_library_iterations import _counts

    from pyolcaoml.cli import main

    model_dir, oml, _ = grouped
    source = REPO / "data" / "sic" / run
    py_run = copy_run_inputs(source, tmp_path / "python")
    capsys.readouterr()
    assert main(["predict", str(model_dir), str(py_run), "--force"]) == 0
    py_text = capsys.readouterr().out
    f_run = copy_run_inputs(source, tmp_path / "fortran")
    args = [str(example_exe), str(oml), str(f_run), str(f_run / "inputs" / "scfV.dat")]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _counts(done.stdout) == _counts(py_text)
    said = "from the reference runs of group si_vacancy" in done.stdout
    assert said == (group is not None)
    assert ("on si_vacancy cells" in py_text) == (group is not None)
