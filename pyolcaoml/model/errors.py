"""Errors raised by pyolcaoml.model."""

from __future__ import annotations


class ModelError(ValueError):
    """A problem the user can fix (bad model file, mismatched data, unknown element)."""
