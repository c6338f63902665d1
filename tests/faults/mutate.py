"""Seeded mutations of real OLCAO files and run directories, and the
classification of what a reader does with them (issue 11's fault suite).

Used by tests/test_faults_readers.py (a few hundred cases, bounded, in CI)
and benchmarks/fuzz_faults.py (every line, more seeds, before a release).

Outcomes of one case:

``clean``
    the project's own error type (OlcaoFormatError) naming the file;
``wrong_type``
    any other exception (UnicodeDecodeError, OverflowError, IndexError...);
``silent``
    accepted, but what was read differs from the undamaged files: a
    harmful change went through unnoticed;
``harmless``
    accepted and read exactly as the undamaged files (a change in a part
    the reader does not use, trailing blank lines);
``flagged``
    accepted with the damage reported (an SCF log that ends early:
    OlcaoRun.log_truncated);
``undetectable``
    random byte damage that still reads as a valid file (one digit for
    another): no reader can tell, so it is counted apart from ``silent``;
``crash``
    the process died (only the long run sees these: it reads each case in
    a child process).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eEdD][-+]?\d+)?")
#: Text put in place of one number.
BAD_NUMBERS = (
    b"NaN",
    b"Inf",
    b"-Infinity",
    b"1e999",
    b"9" * 40,
    b"-" + b"9" * 25,
    b"1.0.0",
    b"0x1F",
    b"--1",
)
#: Bytes that are not UTF-8.
NON_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80\x80\x80")


@dataclass(frozen=True)
class Mutation:
    """One damaged copy of one file."""

    kind: str  # truncate_line, truncate_mid, bytes, non_utf8, number, count, drop
    file: str  # path relative to the run directory
    detail: str
    data: bytes


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def mutations(
    rel: str, data: bytes, rng: np.random.Generator, *, every_line: bool = False,
    per_kind: int = 4, max_cuts: int | None = None,
) -> Iterator[Mutation]:  # fmt: skip
    """Damaged versions of ``data`` (the file ``rel``).  ``every_line``:
    truncate after every line (the long run; at most ``max_cuts`` evenly
    spaced lines of a longer file); otherwise at ``per_kind`` random lines.
    All choices come from ``rng`` (seeded by the caller)."""
    lines = _lines(data)
    n = len(lines)
    if every_line:
        # every line; a file longer than max_cuts lines at evenly spaced ones
        stride = 1 if not max_cuts else max(1, -(-n // max_cuts))
        cut_at: Any = range(0, n, stride)
    else:
        cut_at = sorted(set(rng.integers(0, max(n, 1), size=min(per_kind, n)).tolist()))
    for k in cut_at:
        yield Mutation("truncate_line", rel, f"keep {k} lines", b"".join(lines[:k]))
        line = lines[k].rstrip(b"\r\n")
        if len(line) > 2:
            cut = int(rng.integers(1, len(line)))
            yield Mutation(
                "truncate_mid", rel, f"line {k + 1} cut at column {cut}",
                b"".join(lines[:k]) + line[:cut],
            )  # fmt: skip
    for _ in range(per_kind):
        if not data:
            break
        buf = bytearray(data)
        pos = int(rng.integers(0, len(buf)))
        buf[pos] = int(rng.integers(0, 256))
        yield Mutation("bytes", rel, f"byte {pos} -> {buf[pos]}", bytes(buf))
    for _ in range(per_kind):
        pos = int(rng.integers(0, len(data) + 1))
        bad = NON_UTF8[int(rng.integers(0, len(NON_UTF8)))]
        yield Mutation(
            "non_utf8", rel, f"{bad!r} at byte {pos}", data[:pos] + bad + data[pos:]
        )
    numbers = list(NUMBER.finditer(data))
    if numbers:
        picks = rng.choice(len(numbers), size=min(per_kind * 2, len(numbers)),
                           replace=False)  # fmt: skip
        for i in picks:
            m = numbers[int(i)]
            bad = BAD_NUMBERS[int(rng.integers(0, len(BAD_NUMBERS)))]
            yield Mutation(
                "number", rel, f"{m.group()!r} at byte {m.start()} -> {bad!r}",
                data[: m.start()] + bad + data[m.end():],
            )  # fmt: skip
        # wrong counts: a small integer alone on its line, plus or minus one
        counts = [
            m for m in numbers
            if re.fullmatch(rb"\s*\d{1,4}\s*", _line_of(data, m.start()))
        ]  # fmt: skip
        for m in counts[:per_kind]:
            for delta in (-1, 1):
                new = str(int(m.group()) + delta).encode()
                yield Mutation(
                    "count", rel, f"count {m.group()!r} -> {new!r}",
                    data[: m.start()] + new + data[m.end():],
                )  # fmt: skip
    if n > 2:
        k = int(rng.integers(1, n))
        yield Mutation("drop", rel, f"line {k + 1} removed",
                       b"".join(lines[:k] + lines[k + 1:]))  # fmt: skip


def _line_of(data: bytes, pos: int) -> bytes:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return data[start : end if end >= 0 else len(data)]


def run_files(run: Path) -> list[str]:
    """The files of a run directory the readers look at (relative paths)."""
    out = []
    for p in sorted(run.rglob("*")):
        if p.is_file():
            out.append(str(p.relative_to(run)))
    return out


def copy_run(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def fingerprint(run: Any) -> dict[str, Any]:
    """What a run reader delivers, for comparing with the undamaged run."""

    def arr(a):
        return None if a is None else np.asarray(a, dtype=float).round(12).tolist()

    h = run.history
    out = {
        "cell": arr(run.structure.cell),
        "positions": arr(run.structure.positions),
        "symbols": list(run.structure.symbols),
        "types": arr(run.atom_pot_types),
        "pot_types": arr(run.pot_site_types),
        "alphas": [arr(a) for a in run.alphas_per_type],
        "converged": None if run.converged_coeffs_per_type is None
        else [arr(c) for c in run.converged_coeffs_per_type],
        "start": None if run.start_coeffs_per_type is None
        else [arr(c) for c in run.start_coeffs_per_type],
        "history": None if h is None else [
            arr(h.iteration), arr(h.occupied_energy), arr(h.electron_error),
            arr(h.convergence), arr(h.total_energy),
        ],
        "settings": json.dumps(run.settings, sort_keys=True, default=str),
        # the parts of meta.json the reader uses (the rest is free text)
        "meta": None if run.meta is None else [
            run.meta.get(k) for k in ("n_atoms", "n_pot_types", "kpoints")
        ],
        "kpoints": run.kpoints,
        "truncated": run.log_truncated,
    }  # fmt: skip
    return out


def classify_read(path: Path, reference: dict[str, Any] | None) -> tuple[str, str]:
    """Read the run at ``path``: (outcome, text) as described above."""
    from pyolcaoml.olcao import OlcaoFormatError, read_run

    try:
        run = read_run(path)
        got = fingerprint(run)
    except OlcaoFormatError as exc:
        if exc.path is None:
            return "wrong_type", f"OlcaoFormatError without a file: {exc}"
        return "clean", str(exc)
    except Exception as exc:  # noqa: BLE001 - the point is to count these
        return "wrong_type", f"{type(exc).__name__}: {exc}"
    if reference is not None and got == reference:
        return "harmless", ""
    diff = [k for k in got if reference is None or got[k] != reference.get(k)]
    if got["truncated"] and set(diff) <= {"history", "truncated"}:
        # the damaged log is reported as ending early (also when the real
        # run had already stopped early and is flagged for that)
        return "flagged", "accepted, flagged: the SCF log ends early"
    return "silent", "differs in " + ", ".join(diff)


#: Mutation kinds a reader must notice when they change what it reads.
#: Random byte damage ("bytes") may turn one valid digit into another,
#: which no reader can tell from the real file: such accepts are counted
#: apart, as "undetectable".
HARMFUL_KINDS = frozenset(
    {"truncate_line", "truncate_mid", "non_utf8", "number", "count", "drop"}
)


def outcome(kind: str, result: str) -> str:
    """The figure a case counts towards."""
    if result == "silent" and kind not in HARMFUL_KINDS:
        return "undetectable"
    return result


def write_mutation(run: Path, m: Mutation) -> None:
    target = run / m.file
    target.write_bytes(m.data)


def restore(run: Path, src: Path, m: Mutation) -> None:
    shutil.copyfile(src / m.file, run / m.file)


def environment_summary() -> str:
    return f"pid {os.getpid()}"
