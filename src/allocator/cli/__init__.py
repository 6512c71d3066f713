"""Command-line interface: the typer app, its command modules, and ``main`` with exit codes.

Each command module (instance, solve, research, batch, planning) registers its commands here and
imports what it needs inside the commands, so ``allocator --help`` loads no solver.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Annotated

import typer

from allocator._version import __version__
from allocator.cli import batch, instance, planning, research, solve
from allocator.cli._common import console, err, fail
from allocator.cli._options import Group
from allocator.errors import AllocatorError, ExitCode

__all__ = ["app", "console", "err", "main"]

HELP = """Optimal cargo allocation over the Eurasian freight corridors.

Exit codes: 0 done (also a plan not proven optimal: the summary says so), 1 unexpected error,
2 invalid input or usage, 3 infeasible, 4 no plan in the time limit, 5 a plan failed the checker,
128+N stopped by signal N (batch)."""

app = typer.Typer(
    name="allocator",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _module in (instance, solve, research, batch, planning):
    _module.register(app)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"allocator {__version__}", markup=False, highlight=False)
        raise typer.Exit(int(ExitCode.OK))


@app.callback(cls=Group)
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Optimal cargo allocation over the Eurasian freight corridors."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    The one error boundary: an ``AllocatorError`` exits with its own code, an ``OSError`` or
    ``sqlite3.Error`` (an unusable path, a full disk, a damaged database) with 2, each as one
    line on stderr, never a traceback (docs/reliability.md lists the codes).
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # non-standalone mode returns the code of a raised typer.Exit instead of raising it
        result = app(args=argv if argv is not None else sys.argv[1:], standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click usage errors
        return int(exc.code or 0)
    except (AllocatorError, OSError, sqlite3.Error) as exc:
        return int(fail(exc).exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # usage errors of (typer's vendored) click in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show) and type(exc).__module__.startswith(("click", "typer")):
            show()
            return int(ExitCode.INVALID)
        raise
    return int(result) if isinstance(result, int) else int(ExitCode.OK)
