"""Writing a file so that it is either complete or not there at all.

Every writer of the package that replaces a file goes through
:func:`write_bytes_atomic`: the bytes go to a new temporary file beside the
target with ``os.write`` (no Python buffer that could hold back an error
until ``close``, where a ``with`` block would report it in place of ours),
are flushed to the disk with ``fsync``, and the temporary file is renamed
over the target.  A full disk (ENOSPC), a file-size limit (EFBIG), a
signal or any other failure removes the temporary file and leaves an
existing target untouched; the error names the target.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

__all__ = ["write_bytes_atomic"]


def _write_all(fd: int, data: memoryview) -> None:
    done = 0
    while done < len(data):
        done += os.write(fd, data[done:])


def _target_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Replace ``path`` by ``data`` in one step: bytes or any buffer, or a
    list or tuple of them written one after the other (a large file need
    not be joined into one copy in memory first)."""
    path = os.fspath(path)
    parts = data if isinstance(data, (list, tuple)) else [data]
    views = [memoryview(part).cast("B") for part in parts]
    directory = os.path.dirname(os.path.abspath(path))
    tmp: str | None = None
    fd = -1
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
        )
        try:
            # mkstemp makes the file private (0600): give it the mode of the
            # file it replaces, or the one open() would have given it.
            os.fchmod(fd, _target_mode(path))
            for view in views:
                _write_all(fd, view)
            os.fsync(fd)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
