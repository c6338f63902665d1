"""Build helper: gather the Fortran .mod files and olcaoml.h into one folder.

meson writes each target's .mod files into the target's private directory;
a program that ``use``s OML_Library needs them all on one include path.
Usage (from meson.build)::

    collect_interface.py DEST HEADER MOD_DIR... -- NAME.mod...

copies HEADER and every NAME.mod (looked up case-insensitively, since some
compilers write upper-case module file names) found in the MOD_DIRs to DEST.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    dest, header, *dirs = argv[:split]
    names = argv[split + 1 :]
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(header, out / Path(header).name)
    found: dict[str, Path] = {}
    for d in dirs:
        for path in Path(d).glob("*"):
            if path.suffix.lower() == ".mod":
                found.setdefault(path.name.lower(), path)
    missing = [n for n in names if n.lower() not in found]
    if missing:
        print(f"collect_interface: missing module files {missing}", file=sys.stderr)
        return 1
    for name in names:
        shutil.copyfile(found[name.lower()], out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
