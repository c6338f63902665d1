"""The ``olcaoml`` command line, in the style of ASE's subcommands.

Each subcommand lives in its own module ``pyolcaoml.cli.<name>`` that defines

- ``HELP``: one line shown in ``olcaoml --help``;
- ``add_arguments(parser)``: fills an ``argparse`` parser;
- ``run(args) -> int``: does the work, returns the exit status.

Modules are imported only when listed here, and each imports its heavy
dependencies (TensorFlow) inside ``run`` so that ``olcaoml --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand name -> module, in the order shown by --help.
COMMANDS: dict[str, str] = {
    "demo": "pyolcaoml.cli.demo",
    "bispectrum": "pyolcaoml.cli.bispectrum",
    "convert": "pyolcaoml.cli.convert",
    "train": "pyolcaoml.cli.train",
    "evaluate": "pyolcaoml.cli.evaluate",
    "predict": "pyolcaoml.cli.predict",
    "mb-start": "pyolcaoml.cli.mb_start",
    "from-mb": "pyolcaoml.cli.from_mb",
    "two-level": "pyolcaoml.cli.two_level",
    "select": "pyolcaoml.cli.select",
    "export": "pyolcaoml.cli.export",
    "info": "pyolcaoml.cli.info",
}


class CLIError(Exception):
    """An error the user can fix: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from pyolcaoml import __version__

    parser = argparse.ArgumentParser(
        prog="olcaoml",
        description=(
            "Predict OLCAO self-consistent potentials from atomic environments. "
            "Run 'olcaoml COMMAND --help' for the options of one command."
        ),
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pyolcaoml.cli.signals import run_guarded

    command: list[str] = []  # the subcommand, once known (for messages)

    def work() -> int:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 1
        command.append(args.command)
        try:
            return int(args._run(args) or 0)
        except CLIError as exc:
            print(f"olcaoml {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            raise  # handled by run_guarded: quiet exit
        except (ValueError, OSError) as exc:
            print(f"olcaoml {args.command}: error: {exc}", file=sys.stderr)
            return 2

    # Signals (Ctrl-C, SIGTERM, SIGHUP) and closed pipes: cli/signals.py.
    return run_guarded(
        lambda: command[-1] if command else None, work, own_process=argv is None
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
