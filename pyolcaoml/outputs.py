"""Writing output files: checked paths, umask-respecting modes, atomic renames.

Every file pyolcaoml writes (scfV.dat, HDF5, .npy/.txt, model directories,
JSON, PNG, model.oml) is first written under a temporary name in the target
directory and renamed over the target only when complete, so an error leaves
nothing half-written. Temporary files made by :mod:`tempfile` are private
(0600, directories 0700); before the rename they get the mode any other
program would give them:

- a new file: ``0666 & ~umask`` (``0644`` under umask 022, ``0640`` under 027);
- a new directory: ``0777 & ~umask``;
- a file that is replaced (``--force``): the mode the old file had, e.g.
  makeinput's ``inputs/scfV.dat`` keeps its 0644.

:func:`check_output` tests a path before any heavy work starts, with
messages naming the option and the path (never the temporary name).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence

__all__ = [
    "OutputPathError",
    "atomic_path",
    "check_output",
    "current_umask",
    "mode_for",
    "new_directory_mode",
    "new_file_mode",
    "write_text",
]


class OutputPathError(ValueError):
    """An output path that cannot be written (message names option and path)."""


def current_umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Mode of a newly created regular file: 0666 & ~umask."""
    return 0o666 & ~current_umask()


def new_directory_mode() -> int:
    """Mode of a newly created directory: 0777 & ~umask."""
    return 0o777 & ~current_umask()


def mode_for(path: str | os.PathLike[str]) -> int:
    """The replaced file's permission bits, else those of a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return new_file_mode()


def check_output(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    option: str = "-o/--output",
    suffixes: Sequence[str] = (),
    directory: bool = False,
    may_exist: bool = False,
) -> str:
    """Check that ``path`` can be written before any work starts.

    Returns the absolute path. Raises :class:`OutputPathError` when the
    folder it goes into is missing or not writable, when ``suffixes`` are
    given and the name has none of them, when it exists and neither
    ``force`` nor ``may_exist``, or when it exists as the wrong kind
    (a directory where a file is wanted, or the reverse).
    """
    text = os.fspath(path)
    out = os.path.abspath(text)
    what = f"{option} {text}"
    if suffixes and not any(out.endswith(s) for s in suffixes):
        raise OutputPathError(
            f"{what}: use a file name ending in {', '.join(suffixes)}"
        )
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise OutputPathError(f"{what}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what}: folder {parent} is not writable")
    if os.path.lexists(out):
        if directory and not os.path.isdir(out):
            raise OutputPathError(f"{what}: exists and is not a directory")
        if not directory and os.path.isdir(out):
            raise OutputPathError(f"{what}: is a directory, not a file")
        if not (force or may_exist):
            raise OutputPathError(f"{what}: exists; use --force to replace it")
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it to ``path`` on
    success (mode: the replaced file's, else ``0666 & ~umask``), delete it
    on any error or interrupt."""
    out = os.path.abspath(os.fspath(path))
    mode = mode_for(out)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(out)}.", suffix=suffix, dir=os.path.dirname(out)
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(
    path: str | os.PathLike[str], text: str, encoding: str = "utf-8"
) -> None:
    """Write ``text`` atomically: :func:`pyolcaoml._atomic.write_bytes_atomic`
    (checked writes, fsync, rename; mode as :func:`atomic_path`)."""
    from pyolcaoml._atomic import write_bytes_atomic

    write_bytes_atomic(path, text.encode(encoding))
