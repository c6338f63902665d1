"""The bundled default model, and its export for libolcaoml (``model.oml``).

The package ships the trained default model twice: the Keras directory that
``olcaoml predict`` reads (``data/default_model``) and, beside its files,
``model.oml``, the same model exported for the Fortran library, so that a
Fortran program needs neither ``olcaoml export`` nor TensorFlow.  A test
keeps the two in step (``tests/test_bundled_oml.py``).  After the Keras
model changes, regenerate the export from a checkout with::

    python -m pyolcaoml.bundled_model
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyolcaoml.resources import data_dir

__all__ = ["SOURCE", "export_text", "model_dir", "oml_path", "write_oml"]

#: What the export's "# exported from" comment says (not a machine path, so
#: that the file is the same wherever it is made).
SOURCE = "pyolcaoml/data/default_model"
OML_NAME = "model.oml"


def model_dir() -> Path:
    """The bundled Keras model directory (``olcaoml predict``'s default)."""
    return data_dir() / "default_model"


def oml_path() -> Path:
    """The bundled model exported for libolcaoml (``model.oml``)."""
    return model_dir() / OML_NAME


def export_text(directory: str | os.PathLike[str] | None = None) -> str:
    """A fresh export of the bundled default model, or of the model in
    ``directory`` (from its arrays, networks.npz: no TensorFlow)."""
    from pyolcaoml.export import format_model
    from pyolcaoml.model import load_model

    source = model_dir() if directory is None else directory
    return format_model(load_model(os.fspath(source)), SOURCE)


def write_oml(
    path: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> Path:
    """Export the bundled model (or the one in ``directory``) to ``path``
    (default: :func:`oml_path`), through a temporary file and a rename."""
    out = Path(path) if path is not None else oml_path()
    from pyolcaoml._atomic import write_bytes_atomic

    write_bytes_atomic(out, export_text(directory).encode("ascii"))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m pyolcaoml.bundled_model [OUTPUT]``: regenerate model.oml."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m pyolcaoml.bundled_model",
        description="Regenerate the bundled model's model.oml from its networks.",
    )
    p.add_argument(
        "output", nargs="?", help="where to write it (default: next to the model)"
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    out = write_oml(args.output)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
