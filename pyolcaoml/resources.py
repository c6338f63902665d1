"""Locate bundled data (pyolcaoml/data when installed, ./data in a checkout)."""

from __future__ import annotations

from pathlib import Path


def data_dir() -> Path:
    """Folder of the bundled data: the installed copy, else the repository's."""
    installed = Path(__file__).resolve().parent / "data"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "data"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "pyolcaoml's bundled data folder is missing (reinstall the package)"
    )


def bundled_structure(name: str = "asi64_s102.skl") -> Path:
    """Path of a bundled structure file (default: the 64-atom a-Si model)."""
    path = data_dir() / "structures" / name
    if not path.is_file():
        raise FileNotFoundError(f"no bundled structure {name!r} in {path.parent}")
    return path
