"""How libolcaoml is built and installed: inside the package, and alone with
'meson setup -Dpython=false' (libdir, includedir/olcaoml, pkg-config)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_library_support import cached_model, gfortran, run_dirs

import pyolcaoml
from pyolcaoml import library

REPO = Path(__file__).resolve().parent.parent
MODULES = [
    "oml_kinds.mod",
    "oml_status.mod",
    "oml_lattice.mod",
    "oml_celllist.mod",
    "oml_clebschgordan.mod",
    "oml_snapindex.mod",
    "oml_bispectrum.mod",
    "oml_model.mod",
    "oml_scfv.mod",
    "oml_library.mod",
]


def test_library_is_installed_with_the_package():
    path = Path(pyolcaoml.library_path())
    assert path.name == "libolcaoml.so" and path.is_file()
    assert path.read_bytes()[:4] == b"\x7fELF"
    lib = ctypes.CDLL(str(path))
    assert lib.olcaoml_api_version() == library.API_VERSION
    inc = Path(library.include_dir())
    assert (inc / "olcaoml.h").is_file()
    for name in MODULES:
        assert (inc / name).is_file(), name
    assert library.cflags() == [f"-I{inc}"]
    assert library.libs()[-1] == "-lolcaoml"


def test_module_prints_flags(capsys):
    assert library.main(["--cflags", "--libs"]) == 0
    out = capsys.readouterr().out.split()
    assert out == library.cflags() + library.libs()


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm is not installed")
def test_exports_and_never_stops():
    """Every entry point is exported; nothing can stop the process through
    Fortran STOP / ERROR STOP or print through C stdio."""
    path = pyolcaoml.library_path()
    defined = subprocess.run(
        ["nm", "-D", "--defined-only", path], capture_output=True, text=True
    ).stdout.split()
    for name in library._SIGNATURES:
        assert name in defined
    assert "__oml_library_MOD_omlpredictcoeffs" in defined  # Fortran API
    undefined = subprocess.run(
        ["nm", "-D", "--undefined-only", path], capture_output=True, text=True
    ).stdout
    for bad in (
        "_gfortran_stop_string",
        "_gfortran_stop_numeric",
        "_gfortran_error_stop_string",
        "_gfortran_error_stop_numeric",
        " exit@",
        " printf@",
        " puts@",
    ):
        assert bad not in undefined, bad


needs_standalone_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("meson", "ninja", "pkg-config"))
    or gfortran() is None,
    reason="meson, ninja, pkg-config and gfortran are needed for the stand-alone build",
)


@needs_standalone_tools
def test_standalone_build_with_pkg_config(tmp_path):
    """meson setup -Dpython=false; install; compile the Fortran example with
    pkg-config's flags; it writes the same scfV.dat as with the wheel's
    library."""
    build, prefix = tmp_path / "build", tmp_path / "prefix"
    env = {**os.environ, "PKG_CONFIG_PATH": ""}
    for cmd in (
        ["meson", "setup", str(build), str(REPO), "-Dpython=false",
         f"--prefix={prefix}", "--libdir=lib"],
        ["ninja", "-C", str(build), "install"],
    ):  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    libdir, incdir = prefix / "lib", prefix / "include" / "olcaoml"
    assert (libdir / "libolcaoml.so").is_symlink()
    assert (libdir / "libolcaoml.so.1").exists()
    assert (incdir / "olcaoml.h").is_file()
    for name in MODULES:
        assert (incdir / name).is_file(), name
    assert not list(prefix.rglob("*.cpython*"))  # no Python extension

    env["PKG_CONFIG_PATH"] = str(libdir / "pkgconfig")
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "olcaoml"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert flags.returncode == 0, flags.stderr
    assert f"-I{incdir}" in flags.stdout and "-lolcaoml" in flags.stdout
    exe = tmp_path / "predict_scfv"
    done = subprocess.run(
        [gfortran(), str(REPO / "fortran" / "examples" / "predict_scfv.f90"),
         "-o", str(exe), *flags.stdout.split(), f"-Wl,-rpath,{libdir}"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    _, oml = cached_model()
    run = run_dirs()[-1]
    out = tmp_path / "standalone.dat"
    done = subprocess.run(
        [str(exe), oml, str(run), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    linked = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert str(libdir) in linked

    from pyolcaoml.library import LibraryModel
    from pyolcaoml.olcao import read_run, read_scfv

    rd = read_run(run)
    with LibraryModel(oml) as m:
        sd = rd.structure_dat
        coeffs = m.predict(
            sd.cell_bohr, sd.atom_positions_bohr, m.element_indices(sd.atom_elements)
        )
    got = read_scfv(out).coeffs()
    for t, atom in enumerate(rd.atom_pot_types.argsort()):
        assert abs(got[t] - coeffs[atom]).max() <= 5e-10 * abs(coeffs[atom]).max()
