"""How libolcaoml is built and installed: inside the package, and alone with
'meson setup -Dpython=false' (libdir, includedir/olcaoml, pkg-config)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_library_olcao import OlcaoArrays, expected_flat, keras_site_coeffs
from test_library_support import cached_model, gfortran, run_dirs

import pyolcaoml
from pyolcaoml import library

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "fortran" / "examples"
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
    assert path.name == f"libolcaoml.so.{library.API_VERSION // 10000}"
    assert path.is_file()
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


def api_version_in_meson_build() -> str:
    text = (REPO / "meson.build").read_text()
    return re.search(r"olcaoml_api_version = '(\d+\.\d+\.\d+)'", text).group(1)


def version_number(dotted: str) -> int:
    major, minor, patch = (int(v) for v in dotted.split("."))
    return 10000 * major + 100 * minor + patch


def elf_dynamic(path: Path) -> str | None:
    """The dynamic section as readelf -d or objdump -p prints it."""
    for cmd in (["readelf", "-d"], ["objdump", "-p"]):
        if shutil.which(cmd[0]):
            done = subprocess.run([*cmd, str(path)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stdout
    return None


def soname(path: Path) -> str:
    text = elf_dynamic(path)
    if text is None:
        pytest.skip("neither readelf nor objdump is installed")
    found = re.search(r"SONAME\)?\s+(?:Library soname: \[)?([^\]\s]+)", text)
    assert found, text
    return found.group(1)


def needed(path: Path) -> list[str]:
    text = elf_dynamic(path) or ""
    return re.findall(r"NEEDED\)?\s+(?:Shared library: \[)?([^\]\s]+)", text)


def test_api_version_is_one_number_everywhere():
    """meson.build (SONAME, pkg-config, CMake), the header, the Fortran
    module and the Python wrapper agree."""
    lib = ctypes.CDLL(pyolcaoml.library_path())
    header = (REPO / "fortran" / "capi" / "olcaoml.h").read_text()
    in_header = int(re.search(r"#define OLCAOML_API_VERSION (\d+)", header).group(1))
    dotted = api_version_in_meson_build()
    assert lib.olcaoml_api_version() == in_header == library.API_VERSION
    assert version_number(dotted) == library.API_VERSION


def test_wheel_library_has_versioned_soname(tmp_path):
    """The copy inside the package: file and SONAME libolcaoml.so.MAJOR;
    -lolcaoml (a linker script there) makes programs need the SONAME."""
    path = Path(pyolcaoml.library_path())
    major = library.API_VERSION // 10000
    assert soname(path) == f"libolcaoml.so.{major}" == path.name
    if gfortran() is None:
        pytest.skip("gfortran is absent")
    src = tmp_path / "v.f90"
    src.write_text(
        "program v\n   use OML_Library\n   print '(i0)', omlApiVersion()\n"
        "end program v\n"
    )
    exe = tmp_path / "v"
    done = subprocess.run(
        [gfortran(), *library.cflags(), str(src), "-o", str(exe), *library.libs()],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"libolcaoml.so.{major}" in needed(exe)
    out = subprocess.run([str(exe)], capture_output=True, text=True).stdout
    assert int(out) == library.API_VERSION


needs_standalone_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("meson", "ninja", "pkg-config"))
    or gfortran() is None,
    reason="meson, ninja, pkg-config and gfortran are needed for the stand-alone build",
)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> Path:
    """meson setup -Dpython=false --prefix=PREFIX; ninja install (once)."""
    if any(shutil.which(t) is None for t in ("meson", "ninja")) or gfortran() is None:
        pytest.skip("meson, ninja and gfortran are needed for the stand-alone build")
    top = tmp_path_factory.mktemp("standalone")
    build, prefix = top / "build", top / "prefix"
    env = {**os.environ, "PKG_CONFIG_PATH": ""}
    for cmd in (
        ["meson", "setup", str(build), str(REPO), "-Dpython=false",
         f"--prefix={prefix}", "--libdir=lib"],
        ["ninja", "-C", str(build), "install"],
    ):  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return prefix


@needs_standalone_tools
def test_standalone_install_layout_and_soname(standalone):
    prefix = standalone
    libdir, incdir = prefix / "lib", prefix / "include" / "olcaoml"
    dotted = api_version_in_meson_build()
    major = dotted.split(".")[0]
    real = libdir / f"libolcaoml.so.{dotted}"
    assert real.is_file() and not real.is_symlink()
    assert (libdir / f"libolcaoml.so.{major}").resolve() == real.resolve()
    assert (libdir / "libolcaoml.so").resolve() == real.resolve()
    assert soname(real) == f"libolcaoml.so.{major}"
    assert int(major) == library.API_VERSION // 10000
    assert (incdir / "olcaoml.h").is_file()
    for name in MODULES:
        assert (incdir / name).is_file(), name
    cmake = libdir / "cmake" / "olcaoml"
    assert (cmake / "olcaomlConfig.cmake").is_file()
    assert f'"{dotted}"' in (cmake / "olcaomlConfigVersion.cmake").read_text()
    assert not list(prefix.rglob("*.cpython*"))  # no Python extension
    pc = (libdir / "pkgconfig" / "olcaoml.pc").read_text()
    assert f"Version: {dotted}" in pc


@needs_standalone_tools
def test_standalone_build_with_pkg_config(standalone, tmp_path):
    """Compile the Fortran example with pkg-config's flags from the
    stand-alone install; it writes the same scfV.dat as with the wheel's
    library."""
    prefix = standalone
    libdir, incdir = prefix / "lib", prefix / "include" / "olcaoml"
    env = {**os.environ, "PKG_CONFIG_PATH": str(libdir / "pkgconfig")}
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
        [gfortran(), str(EXAMPLES / "predict_scfv.f90"),
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


@needs_standalone_tools
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
@pytest.mark.parametrize("route", ["find_package", "pkg-config"])
def test_cmake_builds_the_examples_against_standalone(standalone, tmp_path, route):
    """fortran/examples/CMakeLists.txt, configured against the stand-alone
    install through its CMake package (olcaoml::olcaoml) or pkg-config
    (PkgConfig::OLCAOML); the OLCAO-layout example it builds gives Keras'
    coefficients."""
    from pyolcaoml.olcao import read_run

    prefix = standalone
    build = tmp_path / "build"
    env = {**os.environ, "PKG_CONFIG_PATH": ""}
    args = [f"-DCMAKE_Fortran_COMPILER={gfortran()}"]
    if route == "find_package":
        args.append(f"-DCMAKE_PREFIX_PATH={prefix}")
    else:
        env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")
        args.append("-DOLCAOML_PKGCONFIG=ON")
    for cmd in (
        ["cmake", "-S", str(EXAMPLES), "-B", str(build), *args],
        ["cmake", "--build", str(build)],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    exe = build / "olcao_host"
    assert "libolcaoml.so." + str(library.API_VERSION // 10000) in needed(exe)
    linked = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert str(prefix / "lib") in linked  # the stand-alone copy, not the wheel's

    model_dir, oml = cached_model()
    run = read_run(REPO / "tests" / "data" / "olcao" / "si8_r0.10_seed1100")
    arrays = OlcaoArrays(run, [7, 6, 5, 4, 0, 1, 2, 3])
    arrays.write(tmp_path / "arrays.txt")
    done = subprocess.run(
        [str(exe), oml, str(tmp_path / "arrays.txt"), "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    got = np.array([float(v) for v in done.stdout.split("\n")[1:] if v.strip()])
    want = expected_flat(arrays, keras_site_coeffs(model_dir, run))
    got = got.reshape(2, -1)
    for spin in range(2):
        assert np.abs(got[spin] - want).max() <= 1e-12 * np.abs(want).max()
