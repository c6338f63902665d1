"""Choosing the next OLCAO runs: the candidates that teach the model most.

Each candidate structure is scored by the information its atoms would add
to the training set, and a *batch* is chosen greedily so that it is diverse:

* an atom's gain is its ensemble disagreement (sigma, Hartree; for a
  single-network model, 1 mHa per unit of novelty) times a novelty weight
  ``w = min(1, D / D_thr)``, where D is the atom's descriptor-space distance
  (standardised, RMS per feature) to the nearest atom of the training set
  *or of a candidate already chosen*, and D_thr the model's calibrated
  novelty threshold (applicability.py);
* a candidate's score is the sum of its atoms' gains (mHa): the total
  uncertainty it would remove;
* the best candidate is chosen, its atoms join the reference set, the
  scores of the rest are recomputed, and so on. A near-duplicate of a
  chosen candidate then has D ~ 0 and drops to the bottom: the batch is
  not the top-k of near-duplicates.

The loop a user follows: ``olcaoml select`` -> makeinput + OLCAO on the
chosen olcao.skl files -> ``olcaoml convert --append`` -> ``olcaoml train``
-> ``olcaoml select`` again (docs/uncertainty.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pyolcaoml.model.applicability import nearest_distance
from pyolcaoml.model.errors import ModelError

#: Gain per atom of a model without sigma (single network), Hartree per
#: unit of novelty weight.
NOVELTY_ONLY_GAIN = 1e-3
#: Structure files recognised in a directory.
STRUCTURE_SUFFIXES = (
    ".skl",
    ".dat",
    ".xyz",
    ".extxyz",
    ".cif",
    ".vasp",
    ".traj",
    ".pdb",
    ".xsf",
)


@dataclass
class Candidate:
    name: str
    structure: object  # pyolcaoml Structure
    source: str


@dataclass
class Scored:
    """A candidate with its per-atom numbers (computed once)."""

    candidate: Candidate
    symbols: np.ndarray
    sigma: np.ndarray  # Hartree (NaN: single network)
    z: dict[str, np.ndarray]  # element -> standardised descriptors of its atoms
    rows: dict[str, np.ndarray]  # element -> atom indices
    flags: list[str] = field(default_factory=list)


@dataclass
class Choice:
    rank: int
    name: str
    source: str
    n_atoms: int
    score_mha: float
    median_sigma_mha: float
    max_sigma_mha: float
    novel_atoms: int
    reason: str


def read_candidates(paths: Sequence[str]) -> list[Candidate]:
    """Structures from files, directories (every structure file inside,
    sorted) and multi-frame trajectories (one candidate per frame)."""
    from pyolcaoml.structure import Structure, read_structure

    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            if os.path.isfile(os.path.join(p, "olcao.skl")):
                files.append(os.path.join(p, "olcao.skl"))
                continue
            found = []
            for root, _dirs, names in os.walk(p):
                for n in names:
                    if n.endswith(STRUCTURE_SUFFIXES) or n in ("POSCAR", "CONTCAR"):
                        if n.endswith(".dat") and not n.startswith("structure"):
                            continue
                        found.append(os.path.join(root, n))
            if not found:
                raise ModelError(f"no structure files found in directory {p}")
            files += sorted(found)
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise ModelError(f"no such file or directory: {p}")
    out: list[Candidate] = []
    for f in files:
        base = _name_of(f)
        if f.endswith((".skl", ".dat")):
            try:
                out.append(Candidate(base, read_structure(f), f))
            except Exception as exc:  # readers raise several kinds
                raise ModelError(f"cannot read candidate {f}: {exc}") from exc
            continue
        import ase.io

        try:
            frames = ase.io.read(f, index=":")
        except Exception as exc:  # ASE raises many kinds for unknown formats
            raise ModelError(f"cannot read candidate {f}: {exc}") from exc
        if not isinstance(frames, list):
            frames = [frames]
        for k, atoms in enumerate(frames):
            name = base if len(frames) == 1 else f"{base}_frame{k}"
            out.append(Candidate(name, Structure.from_ase(atoms), f"{f}@{k}"))
    if not out:
        raise ModelError("no candidate structures")
    names = [c.name for c in out]
    if len(set(names)) != len(names):  # make names unique
        seen: dict[str, int] = {}
        for c in out:
            k = seen.get(c.name, 0)
            seen[c.name] = k + 1
            if k:
                c.name = f"{c.name}_{k + 1}"
    return out


def _name_of(path: str) -> str:
    base = os.path.basename(path)
    if base in ("olcao.skl", "structure.dat", "POSCAR", "CONTCAR"):
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        if parent == "inputs":
            parent = os.path.basename(
                os.path.dirname(os.path.dirname(os.path.abspath(path)))
            )
        return parent or base
    return os.path.splitext(base)[0]


def score_candidates(model, candidates: Sequence[Candidate], n_threads=None):
    """Descriptors, sigma and standardised descriptors of every candidate."""
    from pyolcaoml.model.report import assess
    from pyolcaoml.model.workflow import compute_descriptors

    if model.applicability is None:
        raise ModelError(
            "the model has no applicability data (made by an older pyolcaoml): "
            "retrain it to use select"
        )
    scored = []
    for c in candidates:
        symbols = list(c.structure.symbols)
        model.check_elements(symbols)
        x = compute_descriptors(model, c.structure, n_threads=n_threads)
        _coeffs, sigma = model.predict_uncertainty(symbols, x)
        sym = np.asarray(symbols)
        z, rows = {}, {}
        for s, dom in model.applicability.domains.items():
            r = np.nonzero(sym == s)[0]
            if r.size:
                rows[s] = r
                z[s] = (x[r] - dom.mean) / dom.scale
        rep = assess(model, c.structure, x, sigma, n_threads=n_threads)
        scored.append(Scored(c, sym, np.asarray(sigma), z, rows, rep.flags))
    return scored


def select_batch(model, scored: Sequence[Scored], n_select: int) -> list[Choice]:
    """Greedy diverse batch of ``n_select`` candidates (see module docstring)."""
    if n_select < 1:
        raise ModelError("the number to select must be at least 1")
    domains = model.applicability.domains
    reference = {s: d.reference for s, d in domains.items()}
    remaining = list(range(len(scored)))
    chosen: list[Choice] = []
    while remaining and len(chosen) < n_select:
        best, best_score, best_info = -1, -np.inf, None
        for k in remaining:
            sc = scored[k]
            gain = np.zeros(len(sc.symbols))
            ratio = np.zeros(len(sc.symbols))
            for s, r in sc.rows.items():
                dom = domains[s]
                d = nearest_distance(sc.z[s], reference[s]) / np.sqrt(sc.z[s].shape[1])
                ratio[r] = d / max(dom.threshold, 1e-300)
            weight = np.minimum(1.0, ratio)
            sig = sc.sigma
            base = np.where(np.isfinite(sig), sig, NOVELTY_ONLY_GAIN)
            gain = base * weight
            score = float(gain.sum()) * 1e3
            if score > best_score:
                best, best_score, best_info = k, score, (ratio, gain)
        sc = scored[best]
        ratio, gain = best_info
        n_novel = int(np.sum(ratio > 1.0))
        top = np.argsort(-gain)[:3]
        finite = np.isfinite(sc.sigma)
        reason = (
            f"{n_novel} of {len(sc.symbols)} atoms novel vs training"
            + (" + chosen" if chosen else "")
            + f" (max distance {ratio.max():.2f} x threshold)"
        )
        if finite.any():
            reason += "; most informative atoms " + ", ".join(
                f"{i + 1} ({sc.sigma[i] * 1e3:.2f} mHa)" for i in top
            )
        flags = {f for fl in sc.flags for f in fl.split(";") if f}
        if "short" in flags or "no_cell" in flags:
            reason += "; WARNING flags: " + ",".join(sorted(flags - {"novel"}))
        chosen.append(
            Choice(
                rank=len(chosen) + 1,
                name=sc.candidate.name,
                source=sc.candidate.source,
                n_atoms=len(sc.symbols),
                score_mha=best_score,
                median_sigma_mha=float(np.median(sc.sigma)) * 1e3
                if finite.any()
                else float("nan"),
                max_sigma_mha=float(np.max(sc.sigma)) * 1e3
                if finite.any()
                else float("nan"),
                novel_atoms=n_novel,
                reason=reason,
            )
        )
        for s, zz in sc.z.items():  # the chosen atoms now count as known
            reference[s] = np.concatenate([reference[s], zz])
        remaining.remove(best)
    return chosen


def write_chosen(
    chosen: Sequence[Choice],
    scored: Sequence[Scored],
    output_dir: str,
    force: bool = False,
) -> list[str]:
    """Write <output_dir>/<rank>_<name>/olcao.skl for each choice."""
    from pyolcaoml.model.workflow import write_text_atomically
    from pyolcaoml.olcao.skeleton import Skeleton, format_skeleton

    by_name = {s.candidate.name: s for s in scored}
    texts = []
    for c in chosen:
        st = by_name[c.name].candidate.structure
        title = (
            f"selected by olcaoml select, rank {c.rank}, from {c.source}\n"
            f"score {c.score_mha:.3f} mHa: {c.reason}"
        )
        try:
            texts.append(format_skeleton(Skeleton.from_structure(st, title=title)))
        except Exception as exc:  # e.g. a structure without a cell
            raise ModelError(f"cannot write {c.name} as olcao.skl: {exc}") from exc
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for c, text in zip(chosen, texts, strict=True):
        d = os.path.join(output_dir, f"{c.rank:03d}_{c.name}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "olcao.skl")
        write_text_atomically(path, text, force=force)
        paths.append(path)
    return paths
