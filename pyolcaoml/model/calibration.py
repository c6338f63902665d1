"""Is sigma honest? Predicted uncertainty against the real errors of a dataset.

Used by ``olcaoml evaluate``: for every atom of the chosen structures, the
actual RMS V(r) error of the prediction (Hartree) beside its sigma and
flags; summary numbers (Spearman rank correlation of sigma and error, the
fractions of atoms with error <= sigma and <= 2 sigma), a per-structure
table and a log-log plot of error against sigma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyolcaoml.model.uncertainty import calibration_summary


@dataclass
class AtomErrors:
    """Per-atom numbers over the evaluated structures (dataset atom order)."""

    structure: list[str]
    atom: np.ndarray  # 1-based within its structure
    element: list[str]
    error: np.ndarray  # RMS V(r) error, Hartree
    sigma: np.ndarray  # Hartree
    domain: np.ndarray
    flags: list[str]


def atom_errors(model, dataset, names, x_all: np.ndarray) -> AtomErrors:
    """Prediction error, sigma and flags of every atom of ``names``."""
    from pyolcaoml.model.report import assess

    cols: dict[str, list] = {k: [] for k in AtomErrors.__dataclass_fields__}
    for sid in dataset.structure_ids(list(names)):
        a0 = int(dataset.atom_start[sid])
        n = int(dataset.n_atoms[sid])
        symbols = dataset.symbols[a0 : a0 + n]
        x = x_all[a0 : a0 + n]
        coeffs, sigma = model.predict_uncertainty(symbols, x)
        error = np.full(n, np.nan)
        for s, ed in dataset.elements.items():
            if s not in model.elements:
                continue
            rows = dataset.element_rows(s, [sid])
            if len(rows) == 0:  # no atom of this element in the structure
                continue
            local = ed.atom_index[rows] - a0
            pred = np.array([coeffs[i] for i in local])
            error[local] = model.metric.rms_per_atom(
                pred, ed.coeffs[rows], model.elements[s].alphas
            )
        rep = assess(model, dataset.structure(int(sid)), x, sigma)
        cols["structure"] += [dataset.names[sid]] * n
        cols["atom"].append(np.arange(1, n + 1))
        cols["element"] += list(symbols)
        cols["error"].append(error)
        cols["sigma"].append(np.asarray(sigma, dtype=np.float64))
        cols["domain"].append(rep.domain)
        cols["flags"] += rep.flags
    return AtomErrors(
        structure=cols["structure"],
        atom=np.concatenate(cols["atom"]),
        element=cols["element"],
        error=np.concatenate(cols["error"]),
        sigma=np.concatenate(cols["sigma"]),
        domain=np.concatenate(cols["domain"]),
        flags=cols["flags"],
    )


def per_structure(ae: AtomErrors) -> list[dict]:
    """One row per structure: error, sigma, coverage and flags."""
    rows = []
    names = np.asarray(ae.structure)
    for name in dict.fromkeys(ae.structure):
        sel = names == name
        e, s = ae.error[sel], ae.sigma[sel]
        flags = [f for f, k in zip(ae.flags, sel, strict=True) if k]
        rows.append(
            {
                "structure": name,
                "n_atoms": int(sel.sum()),
                "rms_error_hartree": float(np.sqrt(np.mean(e**2))),
                "max_error_hartree": float(np.max(e)),
                "median_sigma_hartree": float(np.median(s)),
                "max_sigma_hartree": float(np.max(s)),
                "within_2_sigma": float(np.mean(e <= 2 * s))
                if np.all(np.isfinite(s))
                else float("nan"),
                "max_domain": float(np.nanmax(ae.domain[sel]))
                if np.any(np.isfinite(ae.domain[sel]))
                else float("nan"),
                "n_flagged": int(sum(1 for f in flags if f)),
            }
        )
    return rows


def uncertainty_report(ae: AtomErrors) -> dict:
    return {
        "summary": calibration_summary(ae.error, ae.sigma),
        "per_structure": per_structure(ae),
    }


def format_uncertainty(report: dict) -> str:
    s = report["summary"]
    lines = ["uncertainty vs actual error (RMS V(r), per atom):"]
    if not np.isfinite(s["median_sigma_hartree"]):
        lines.append("  single-network model: no sigma")
    else:
        lines.append(
            f"  {s['n_atoms']} atoms: Spearman rank correlation(sigma, error) "
            f"{s['spearman']:.3f}; error <= 1 sigma: {s['within_1_sigma']:.1%}, "
            f"<= 2 sigma: {s['within_2_sigma']:.1%}; RMS error "
            f"{s['rms_error_hartree'] * 1e3:.3f} mHa, RMS sigma "
            f"{s['rms_sigma_hartree'] * 1e3:.3f} mHa"
        )
    lines.append(
        f"  {'structure':<28}{'atoms':>6}{'RMS err':>9}{'max err':>9}"
        f"{'med sig':>9}{'max sig':>9}{'<=2sig':>8}{'domain':>8}{'flagged':>8}"
    )
    for r in report["per_structure"]:
        lines.append(
            f"  {r['structure']:<28}{r['n_atoms']:>6}"
            f"{r['rms_error_hartree'] * 1e3:>9.3f}{r['max_error_hartree'] * 1e3:>9.3f}"
            f"{r['median_sigma_hartree'] * 1e3:>9.3f}"
            f"{r['max_sigma_hartree'] * 1e3:>9.3f}"
            f"{r['within_2_sigma']:>8.0%}{r['max_domain']:>8.2f}{r['n_flagged']:>8d}"
        )
    lines.append(
        "  (mHa; domain = descriptor distance to the training set / threshold, "
        "> 1 flags the atom novel)"
    )
    return "\n".join(lines)


def plot_error_vs_sigma(path: str, ae: AtomErrors, title: str = "") -> None:
    """Log-log scatter of actual error against sigma, one colour per structure,
    with the lines error = sigma and error = 2 sigma."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = np.isfinite(ae.sigma) & np.isfinite(ae.error) & (ae.sigma > 0)
    fig, ax = plt.subplots(figsize=(5.8, 5))
    names = np.asarray(ae.structure)
    for k, name in enumerate(dict.fromkeys(ae.structure)):
        sel = ok & (names == name)
        ax.scatter(
            ae.sigma[sel] * 1e3,
            np.maximum(ae.error[sel], 1e-9) * 1e3,
            s=10,
            color=plt.get_cmap("tab20")(k % 20),
            label=name,
        )
    if ok.any():
        lo = float(min(ae.sigma[ok].min(), ae.error[ok].min())) * 1e3 * 0.7
        hi = float(max(ae.sigma[ok].max(), ae.error[ok].max())) * 1e3 * 1.4
        lo = max(lo, hi * 1e-4)
        t = np.array([lo, hi])
        ax.plot(t, t, "k-", lw=0.8, label="error = sigma")
        ax.plot(t, 2 * t, "k--", lw=0.8, label="error = 2 sigma")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    else:
        ax.text(0.5, 0.5, "no sigma (single network)", ha="center", va="center")
    if ok.any():
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("predicted sigma (mHa)")
    ax.set_ylabel("actual RMS V(r) error (mHa)")
    ax.set_title(title or "per-atom error vs predicted uncertainty", fontsize=10)
    if ok.any():
        ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
