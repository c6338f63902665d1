"""argparse types for the numbers the commands pass to the Fortran core."""

from __future__ import annotations

from pyolcaoml.cli.common import thread_count as thread_count_arg

__all__ = ["thread_count_arg"]
