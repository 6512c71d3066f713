"""The options every command shares (``-q``, ``-v``, ``--json``, ``--format``) and the typer
command class whose boolean flags read as flags in ``--help``. Imports only typer and the standard
library, so that ``allocator --help`` stays fast."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = [
    "Group",
    "Json",
    "ListFormat",
    "Quiet",
    "StepMinutes",
    "Verbose",
    "command",
    "set_verbosity",
]

Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only problems (and unserved lots).")
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Log more on stderr; solving commands stream the HiGHS log."
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON document to stdout and nothing else there.")
]
StepMinutes = Annotated[
    float | None,
    typer.Option(
        "--step-minutes",
        help="Grid step in minutes of the time model family (default: the recipe's, 60); "
        "other models ignore it.",
    ),
]
ListFormat = Annotated[
    Literal["auto", "table", "csv", "json"],
    typer.Option("--format", help="auto: a table on a terminal, CSV when stdout is not one."),
]


_Params = TypeVar("_Params", bound=list)


def _flags_without_metavar(params: _Params) -> _Params:
    """Boolean flags take no value: their help shows no ``<bool>``."""
    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


class Command(TyperCommand):
    """A typer command whose flags read as flags in ``--help``."""

    def get_params(self, ctx: typer.Context):  # noqa: ANN201 (typer's vendored click types)
        return _flags_without_metavar(super().get_params(ctx))


class Group(TyperGroup):
    """A typer group whose flags read as flags in ``--help``."""

    def get_params(self, ctx: typer.Context):  # noqa: ANN201 (typer's vendored click types)
        return _flags_without_metavar(super().get_params(ctx))


def command(app: typer.Typer, function: Callable[..., None], name: str | None = None) -> None:
    """Register ``function`` on ``app`` as a command whose flags read as flags; its ``verbose``
    parameter (``-v``) sets allocator's log level before the command runs."""

    @functools.wraps(function)  # typer reads the parameters through the wrapper
    def run(*args: object, **kwargs: object) -> None:
        set_verbosity(bool(kwargs.get("verbose", False)))
        function(*args, **kwargs)

    app.command(name=name, cls=Command)(run)


def set_verbosity(verbose: bool) -> None:
    """``-v``: allocator's own INFO messages on stderr."""
    if verbose:
        logging.getLogger("allocator").setLevel(logging.INFO)
