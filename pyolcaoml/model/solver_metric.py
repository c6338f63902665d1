"""A predicted potential judged the way OLCAO's SCF convergence test judges it.

OLCAO stops its SCF when a change of the potential coefficients is small in
real space. Its test (uolcao, ``potentialUpdate.F90``) maps a coefficient
change dA to the *crystal* potential

    dV(r) = sum_sites sum_lattice sum_i dA_(site,i) exp(-alpha_i |r - R_site - T|^2)

(every site's Gaussians, over all periodic images), samples dV on the
exchange-correlation mesh of each potential site, takes the radially
weighted root-mean-square there, and reports the maximum over sites.
Column 4 of ``gs_iter-fb.dat`` is that number for dA = (output - input) of
each iteration.

This module computes the same quantity for dA = (predicted - converged):
the error of a start as OLCAO's convergence test would see it. It is our own
implementation of the mesh described in OLCAO's setup code
(``exchCorr.f90``), from the geometry and the potential exponents only:

* **directions**: a generalised spiral of ``n_rays`` unit vectors on the
  sphere (Saff & Kuijlaars, Math. Intelligencer 19, 5 (1997));
* **ray length**: each ray from a site stops at the first plane that
  divides the site from a neighbour (or a periodic image) at the fraction
  ``r_i / (r_i + r_j)`` of the separation (``r``: covalent radii; equal
  radii give the Wigner-Seitz / Voronoi cell), and never goes beyond
  ``sqrt(r_sample_out / alpha_min)``, alpha_min the smallest exponent of
  the whole system;
* **radial points**: a geometric series inward from that end point with
  ratio ``spacing`` until the radius is below
  ``sqrt(r_sample_in / alpha_max(site))``, plus one final point;
* **weights**: ``w = W * (1 - s)/sqrt(s) * r^3`` (a log-radial rule for
  r^2 dr; half weight at the outer end point), W the inner or outer
  angular weight (``weight_in`` inside half the covalent radius).

The defaults are makeinput's (olcao.dat: ``NUM_ANGULAR_SAMPLE_VECTORS 100``,
``WTIN_WTOUT 0.5 0.5``, ``RADIAL_SAMPLE-IN_OUT_SPACING 0.1 3.5 0.8``).

Units: lengths in Bohr inside this module (the constructor takes Å),
exponents in Bohr^-2, coefficients and potentials in Hartree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pyolcaoml.structure import BOHR_IN_ANGSTROM

#: exp(-x) below 1e-16 is left out of the crystal sum, as OLCAO does with
#: its default electrostatic cutoff (olcao.dat, 1e-16).
LOG_NEGLECT = -np.log(1e-16)
#: OLCAO's smallThresh: a ray direction with p.u below this never meets p's plane.
_SMALL = 1e-8


@dataclass(frozen=True)
class XCMeshSettings:
    """OLCAO's exchange-correlation mesh parameters (olcao.dat)."""

    n_rays: int = 100
    weight_in: float = 0.5
    weight_out: float = 0.5
    r_sample_in: float = 0.1
    r_sample_out: float = 3.5
    spacing: float = 0.8

    def __post_init__(self) -> None:
        if self.n_rays < 2:
            raise ValueError(f"n_rays must be >= 2, got {self.n_rays}")
        if not 0.0 < self.spacing < 1.0:
            raise ValueError(f"spacing must be in (0, 1), got {self.spacing}")
        if self.r_sample_in <= 0 or self.r_sample_out <= 0:
            raise ValueError("r_sample_in and r_sample_out must be > 0")


DEFAULT_MESH = XCMeshSettings()


def spiral_directions(n: int) -> np.ndarray:
    """(n, 3) unit vectors of the generalised spiral set (first -z, last +z)."""
    k = np.arange(1, n + 1, dtype=np.float64)
    h = -1.0 + 2.0 * (k - 1.0) / (n - 1.0)
    h[0], h[-1] = -1.0, 1.0
    theta = np.arccos(h)
    phi = np.zeros(n)
    step = 3.6 / np.sqrt(float(n))
    for j in range(1, n - 1):
        phi[j] = (phi[j - 1] + step / np.sqrt(1.0 - h[j] * h[j])) % (2.0 * np.pi)
    return np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)],
        axis=1,
    )


def _images(cell: np.ndarray, radius: float) -> np.ndarray:
    """Lattice translations T (Bohr) with |T| small enough to matter within
    ``radius`` of any point of the cell (a generous integer box)."""
    inv = np.linalg.inv(cell)
    # number of repeats along each axis: radius / (distance between planes) + 1
    heights = 1.0 / np.linalg.norm(inv, axis=0)
    n = np.ceil(radius / heights).astype(int) + 1
    g = np.stack(
        np.meshgrid(*[np.arange(-m, m + 1) for m in n], indexing="ij"), axis=-1
    ).reshape(-1, 3)
    return g @ cell


@dataclass
class SiteMesh:
    """The mesh of one site: points (P, 3) in Bohr (absolute) and weights (P,)."""

    points: np.ndarray
    weights: np.ndarray
    ray_ends: np.ndarray  # (n_rays,) Bohr: where each ray starts (outer end)


class SolverMetric:
    """OLCAO's convergence measure for coefficient differences on one structure.

    Parameters
    ----------
    cell_angstrom: (3, 3) lattice vectors (rows), Å.
    positions_angstrom: (n, 3) Cartesian positions, Å.
    alphas: exponents (Bohr^-2) of every site: one (N,) array for all, or a
        sequence of n arrays (different elements may have different N).
    covalent_radii: per site (OLCAO's COVALENT_RADIUS; makeinput writes 1.0
        for every element in its database), or None for all 1.0.
    settings: the mesh parameters.
    """

    def __init__(
        self,
        cell_angstrom: np.ndarray,
        positions_angstrom: np.ndarray,
        alphas: np.ndarray | Sequence[np.ndarray],
        covalent_radii: Sequence[float] | None = None,
        settings: XCMeshSettings = DEFAULT_MESH,
    ) -> None:
        self.cell = np.asarray(cell_angstrom, dtype=np.float64) / BOHR_IN_ANGSTROM
        self.positions = (
            np.asarray(positions_angstrom, dtype=np.float64) / BOHR_IN_ANGSTROM
        )
        n = len(self.positions)
        if self.cell.shape != (3, 3) or self.positions.shape != (n, 3):
            raise ValueError("cell must be (3, 3) and positions (n, 3)")
        if isinstance(alphas, np.ndarray) and alphas.ndim == 1:
            self.alphas = [alphas.astype(np.float64)] * n
        else:
            self.alphas = [np.asarray(a, dtype=np.float64) for a in alphas]
        if len(self.alphas) != n:
            raise ValueError(f"need exponents for {n} sites, got {len(self.alphas)}")
        self.covalent = (
            np.ones(n)
            if covalent_radii is None
            else np.asarray(covalent_radii, dtype=np.float64)
        )
        if self.covalent.shape != (n,) or np.any(self.covalent <= 0):
            raise ValueError("need one positive covalent radius per site")
        self.settings = settings
        self.offsets = np.concatenate([[0], np.cumsum([len(a) for a in self.alphas])])
        self._directions = spiral_directions(settings.n_rays)
        self._meshes: list[SiteMesh | None] = [None] * n

    @property
    def n_sites(self) -> int:
        return len(self.positions)

    @property
    def pot_dim(self) -> int:
        return int(self.offsets[-1])

    # -- the mesh ---------------------------------------------------------
    def mesh(self, i: int) -> SiteMesh:
        """The exchange-correlation mesh of site i (built on first use)."""
        m = self._meshes[i]
        if m is None:
            m = self._build_mesh(i)
            self._meshes[i] = m
        return m

    def _build_mesh(self, i: int) -> SiteMesh:
        s = self.settings
        alpha_min = min(float(a.min()) for a in self.alphas)
        max_radius = np.sqrt(s.r_sample_out / alpha_min)
        min_radius = np.sqrt(s.r_sample_in / float(self.alphas[i].max()))
        # every neighbour image whose dividing plane can be closer than max_radius
        frac = self.covalent[i] / (self.covalent[i] + self.covalent)  # (n,)
        reach = max_radius / frac.min()
        sep = (
            self.positions[None, :, :]
            - self.positions[i][None, None, :]
            + _images(self.cell, reach)[:, None, :]
        )  # (T, n, 3)
        p = (sep * frac[None, :, None]).reshape(-1, 3)
        p2 = np.sum(p * p, axis=1)
        keep = (p2 > 1e-20) & (p2 < max_radius**2)
        p, p2 = p[keep], p2[keep]
        u = self._directions
        dots = u @ p.T  # (rays, planes)
        with np.errstate(divide="ignore"):
            dist = np.where(dots > _SMALL, p2[None, :] / dots, np.inf)
        ends = np.minimum(dist.min(axis=1, initial=np.inf), max_radius)
        half_cov = self.covalent[i] / 2.0
        w_ang = (s.weight_in, s.weight_out)
        factor = (1.0 - s.spacing) / np.sqrt(s.spacing)
        pts: list[np.ndarray] = []
        wts: list[float] = []
        for j, r_end in enumerate(ends):
            r = float(r_end)
            index = 1  # outer weight until a point falls inside
            end_factor = 0.5
            while True:
                pts.append(r * u[j])
                wts.append(w_ang[index] * factor * end_factor * r**3)
                end_factor = 1.0
                if r < half_cov or r < min_radius:
                    index = 0
                if w_ang[index] < _SMALL:
                    break
                if r < min_radius:
                    r *= np.sqrt(s.spacing)
                    pts.append(0.75 * r * u[j])
                    wts.append(w_ang[0] * r**3 / 3.0)
                    break
                r *= s.spacing
        points = np.asarray(pts) + self.positions[i]
        return SiteMesh(points=points, weights=np.asarray(wts), ray_ends=ends)

    # -- the crystal potential on a mesh ------------------------------------
    def _site_images(self, centre: np.ndarray, reach: float):
        """Site images within ``reach`` (Bohr) of ``centre``: (site index, position)."""
        t = _images(self.cell, reach)
        pos = self.positions[None, :, :] + t[:, None, :]  # (T, n, 3)
        d = np.linalg.norm(pos - centre, axis=2)
        sel = d < reach
        site = np.broadcast_to(np.arange(self.n_sites), sel.shape)[sel]
        return site, pos[sel]

    def basis_values(self, points: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """(P, pot_dim): the value at each point of every Gaussian of every site,
        summed over periodic images (OLCAO's exchRhoOp for LDA). ``centre``:
        a point within the mesh's own site (sets which images are needed)."""
        alpha_min = min(float(a.min()) for a in self.alphas)
        r_pts = float(np.max(np.linalg.norm(points - centre, axis=1), initial=0.0))
        reach = np.sqrt(LOG_NEGLECT / alpha_min) + r_pts
        site, pos = self._site_images(centre, reach)
        p_rel, q_rel = points - centre, pos - centre  # small numbers: no cancellation
        d2 = (
            np.sum(p_rel**2, axis=1)[:, None]
            + np.sum(q_rel**2, axis=1)[None, :]
            - 2.0 * (p_rel @ q_rel.T)
        )  # (P, M) squared distances, Bohr^2
        np.maximum(d2, 0.0, out=d2)
        # closest any point can be to each image: skips terms that vanish
        near2 = np.maximum(np.linalg.norm(pos - centre, axis=1) - r_pts, 0.0) ** 2
        out = np.zeros((len(points), self.pot_dim))
        for s_idx in np.unique(site):
            cols = np.flatnonzero(site == s_idx)
            for k, a in enumerate(self.alphas[s_idx]):
                c = cols[near2[cols] * a < LOG_NEGLECT]
                if c.size == 0:
                    break  # exponents increase: the rest vanish too
                x = d2[:, c] * a
                e = np.where(x < LOG_NEGLECT, np.exp(-np.minimum(x, LOG_NEGLECT)), 0.0)
                out[:, self.offsets[s_idx] + k] = e.sum(axis=1)
        return out

    def _flat(self, dcoeffs) -> np.ndarray:
        if isinstance(dcoeffs, np.ndarray) and dcoeffs.ndim == 2:
            flat = dcoeffs.reshape(-1)
        else:
            flat = np.concatenate([np.asarray(a, dtype=np.float64) for a in dcoeffs])
        if flat.shape != (self.pot_dim,):
            raise ValueError(
                f"need {self.pot_dim} coefficient differences, got {flat.shape[0]}"
            )
        return flat

    def per_site(self, dcoeffs) -> np.ndarray:
        """Weighted RMS of the crystal potential of ``dcoeffs`` (Hartree) on the
        mesh of every site. ``dcoeffs``: (n, N) array or n arrays (site order)."""
        return self.per_site_many([dcoeffs])[0]

    def per_site_many(self, many) -> np.ndarray:
        """(k, n_sites): :meth:`per_site` of k coefficient differences at once
        (the mesh and the Gaussians on it are computed once)."""
        flat = np.stack([self._flat(d) for d in many], axis=1)  # (pot_dim, k)
        out = np.empty((flat.shape[1], self.n_sites))
        for i in range(self.n_sites):
            m = self.mesh(i)
            dv = self.basis_values(m.points, self.positions[i]) @ flat  # (P, k)
            out[:, i] = np.sqrt(m.weights @ dv**2 / np.sum(m.weights))
        return out

    def value(self, dcoeffs) -> float:
        """OLCAO's convergence value of ``dcoeffs``: the maximum over sites."""
        return float(self.per_site(dcoeffs).max())

    def gram(self) -> np.ndarray:
        """K (pot_dim x pot_dim) with dA^T K dA = sum over sites of the squared
        per-site value (the mean square of the structure times n_sites)."""
        k = np.zeros((self.pot_dim, self.pot_dim))
        for i in range(self.n_sites):
            m = self.mesh(i)
            phi = self.basis_values(m.points, self.positions[i])
            w = m.weights / m.weights.sum()
            nz = np.flatnonzero(np.any(phi != 0.0, axis=0))  # far sharp terms vanish
            phi = phi[:, nz]
            k[np.ix_(nz, nz)] += phi.T @ (w[:, None] * phi)
        return k


def solver_errors(
    cell_angstrom: np.ndarray,
    positions_angstrom: np.ndarray,
    alphas,
    pred: Sequence[np.ndarray] | np.ndarray,
    true: Sequence[np.ndarray] | np.ndarray,
    covalent_radii: Sequence[float] | None = None,
) -> np.ndarray:
    """Per-site OLCAO-convergence-style error (Hartree) of a predicted start."""
    metric = SolverMetric(cell_angstrom, positions_angstrom, alphas, covalent_radii)
    d = [np.asarray(p, dtype=np.float64) - t for p, t in zip(pred, true, strict=True)]
    return metric.per_site(d)


# -- evaluation of a model on a dataset ---------------------------------------
def dataset_solver_errors(
    model, dataset, names: Sequence[str], x_all: np.ndarray, methods: Sequence[str]
) -> dict:
    """OLCAO-convergence-style errors of each method on each structure.

    Returns ``{"structures": {name: {method: {"max", "mean", "per_atom"}}},
    "elements": {symbol: {method: {"mean_atom", "worst_atom", "n_atoms"}}}}``
    (Hartree). ``max`` over a structure's sites is the number OLCAO's test
    would print; covalent radii are makeinput's 1.0 for every element.
    """
    ids = dataset.structure_ids(names)
    row_of_atom: dict[int, tuple[str, int]] = {}
    for sym, ed in dataset.elements.items():
        for r, a in enumerate(ed.atom_index):
            row_of_atom[int(a)] = (sym, r)
    structures: dict[str, dict] = {}
    per_element: dict[str, dict[str, list[float]]] = {}
    for name, s in zip(names, ids, strict=True):
        a0 = int(dataset.atom_start[s])
        atoms = range(a0, a0 + int(dataset.n_atoms[s]))
        symbols = [dataset.symbols[a] for a in atoms]
        alphas = [dataset.elements[row_of_atom[a][0]].alphas for a in atoms]
        true = [
            dataset.elements[row_of_atom[a][0]].coeffs[row_of_atom[a][1]] for a in atoms
        ]
        x = x_all[a0 : a0 + len(symbols)]
        diffs = []
        for m in methods:
            pred = model.predict(symbols, x, method=m)
            diffs.append([p - t for p, t in zip(pred, true, strict=True)])
        metric = SolverMetric(dataset.cells[s], dataset.structure(s).positions, alphas)
        values = metric.per_site_many(diffs)
        structures[name] = {}
        for m, v in zip(methods, values, strict=True):
            structures[name][m] = {
                "max": float(v.max()),
                "mean": float(v.mean()),
                "per_atom": [float(t) for t in v],
            }
            for sym, t in zip(symbols, v, strict=True):
                per_element.setdefault(sym, {}).setdefault(m, []).append(float(t))
    elements = {
        sym: {
            m: {
                "mean_atom": float(np.mean(v)),
                "worst_atom": float(np.max(v)),
                "n_atoms": len(v),
            }
            for m, v in by_method.items()
        }
        for sym, by_method in per_element.items()
    }
    return {"structures": structures, "elements": elements}


def format_solver_table(result: dict, labels: dict[str, str] | None = None) -> str:
    """Plain-text tables of :func:`dataset_solver_errors` (Hartree)."""
    labels = labels or {}
    structures = result["structures"]
    if not structures:
        return ""
    methods = list(next(iter(structures.values())))
    head = "".join(f"{labels.get(m, m):>24}" for m in methods)
    lines = [
        "Solver-aligned error: OLCAO's SCF convergence measure of (start - converged),",
        "weighted RMS of the crystal potential on each site's XC mesh (Hartree);",
        "max = worst site (the number OLCAO's test prints), mean = over sites",
        f"  {'structure':<28}" + head,
        f"  {'':<28}" + "".join(f"{'max / mean':>24}" for _ in methods),
    ]
    for name, row in structures.items():
        cells = "".join(
            f"{row[m]['max']:>13.3g} /{row[m]['mean']:>9.3g}" for m in methods
        )
        lines.append(f"  {name[:28]:<28}{cells}")
    for sym, row in result["elements"].items():
        cells = "".join(
            f"{row[m]['worst_atom']:>13.3g} /{row[m]['mean_atom']:>9.3g}"
            for m in methods
        )
        n = next(iter(row.values()))["n_atoms"]
        lines.append(f"  {f'{sym}: worst / mean atom ({n})':<28}{cells}")
    return "\n".join(lines)
