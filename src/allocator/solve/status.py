"""How a solve ended and with what: the status types every stage after the solver reads."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from allocator.errors import OptionsError
from allocator.instance.schema import Settings

SOLVER = "highs"


class Termination(StrEnum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    """Proven optimal within the relative gap."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit with a feasible plan (not proven optimal)."""
    TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
    """Stopped at the time limit before any feasible plan was found."""
    LIMIT = "limit"
    """Stopped at another limit (iterations, nodes, solutions, interrupt)."""
    INFEASIBLE = "infeasible"
    """Proven to have no feasible plan."""
    UNBOUNDED = "unbounded"
    """The objective can decrease without bound (a modelling error)."""
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    """Presolve found the model infeasible or unbounded without telling which."""
    ERROR = "error"
    """The solver failed."""


DEFAULT_TIME_LIMIT_S = 60.0
DEFAULT_MIP_REL_GAP = 1e-4


def check_bound(value: float | None, name: str, setting: str) -> None:
    """OptionsError unless ``value`` (option ``name``, e.g. ``--gap``) is None or within the
    bounds of the instance setting ``setting`` (``Settings`` is the one place they are stated)."""
    if value is None:
        return
    for rule in Settings.model_fields[setting].metadata:
        for attr, ok, words in (
            ("gt", lambda v, b: v > b, "greater than"),
            ("ge", lambda v, b: v >= b, "at least"),
            ("lt", lambda v, b: v < b, "less than"),
            ("le", lambda v, b: v <= b, "at most"),
        ):
            bound = getattr(rule, attr, None)
            if bound is not None and not ok(value, bound):  # NaN fails every comparison
                raise OptionsError(f"{name} must be {words} {bound:g}, not {value:g}")


@dataclass(frozen=True)
class SolveOptions:
    """Solver settings; ``threads=0`` lets HiGHS choose.

    ``None`` time limit, gap or threads: the instance settings' value when the pipeline runs
    (``under``), else the defaults below (60 s, 1e-4, 0), which are also the settings' defaults.
    """

    time_limit_s: float | None = None
    mip_rel_gap: float | None = None
    threads: int | None = None
    seed: int = 0
    log_file: str | None = None
    tee: bool = False
    lp_first: bool = True
    dive: bool = False  # an LP dive for a first plan, on a copy of the model (see solve.highs)
    relax: bool = False  # solve the LP relaxation only: fractional values, bound = objective
    highs_options: dict[str, Any] = field(default_factory=dict)
    # a user MIP start, {Pyomo variable name: value}, e.g. last week's plan mapped by
    # allocator.analysis.rolling; missing columns start at 0 (clipped to bounds).
    # Checked against bounds, integrality and rows first: accepted starts are passed to HiGHS
    # (and take priority over the rounded LP start), rejected ones are reported and dropped.
    mip_start: Mapping[str, float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse values the instance settings would refuse (OptionsError, exit 2)."""
        check_bound(self.time_limit_s, "--time-limit", "time_limit_s")
        check_bound(self.mip_rel_gap, "--gap", "mip_rel_gap")
        check_bound(self.threads, "--threads", "threads")

    def for_settings(self, settings: Settings) -> SolveOptions:
        """These options with every ``None`` taken from an instance's settings."""
        return self.under(settings.time_limit_s, settings.mip_rel_gap, settings.threads)

    def under(
        self,
        time_limit_s: float = DEFAULT_TIME_LIMIT_S,
        mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
        threads: int = 0,
    ) -> SolveOptions:
        """These options with every ``None`` replaced by the given value (e.g. the settings')."""
        return replace(
            self,
            time_limit_s=time_limit_s if self.time_limit_s is None else self.time_limit_s,
            mip_rel_gap=mip_rel_gap if self.mip_rel_gap is None else self.mip_rel_gap,
            threads=threads if self.threads is None else self.threads,
        )


@dataclass(frozen=True)
class SolveResult:
    """What the solver reported, with sizes and timings.

    ``cuts_added``: rows the root cutting-plane loop added (models with a separator);
    ``iterations``: rounds of an iterative method (0 for one solve).
    """

    termination: Termination
    has_solution: bool
    objective: float
    bound: float
    gap: float
    solver: str
    solver_version: str
    is_mip: bool
    n_vars: int
    n_cons: int
    n_nonzeros: int
    handoff_seconds: float
    solve_seconds: float
    nodes: int = 0
    root_bound: float = float("nan")
    options: dict[str, Any] = field(default_factory=dict)
    row_duals: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the user MIP start: none, accepted or rejected (with why)
    mip_start_status: str = "none"
    mip_start_objective: float = float("nan")
    mip_start_message: str = ""
    cuts_added: int = 0
    # rounds of an iterative method: column generation rounds, discretization refinements
    iterations: int = 0
    # (seconds since ``solve`` was called, hand-off included, best plan
    # objective or inf, best proven bound or -inf), one point per change: for time-to-target
    # comparisons in benchmarks (``allocator.research.bench.time_to_target``)
    progress: tuple[tuple[float, float, float], ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when a plan is available (optimal or a time-limited incumbent)."""
        return self.has_solution and self.termination in (
            Termination.OPTIMAL,
            Termination.TIME_LIMIT,
            Termination.LIMIT,
        )

    def __repr__(self) -> str:
        return (
            f"SolveResult({self.termination}, objective={self.objective:.10g}, "
            f"bound={self.bound:.10g}, gap={self.gap:.3g}, "
            f"seconds={self.handoff_seconds + self.solve_seconds:.2f})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain values for tables and the ledger."""
        out = asdict(self)
        out.pop("row_duals")
        out["termination"] = str(self.termination)
        return out


progress_log = logging.getLogger("allocator.progress")


def report_progress(stage: str, elapsed: float, **fields: float) -> None:
    """One progress record of a long solve (``allocator.progress`` logger, DEBUG): ``stage``,
    seconds ``elapsed`` and e.g. ``plan``, ``bound``, ``gap``, ``round``, ``columns``, ``lp``.
    The CLI shows the latest one as a live line; nothing is printed otherwise."""
    if not progress_log.isEnabledFor(logging.DEBUG):
        return
    text = " ".join(f"{k} {v:.6g}" for k, v in fields.items())
    progress_log.debug(
        "%s %.1f s %s",
        stage,
        elapsed,
        text,
        extra={"progress": {"stage": stage, "elapsed": elapsed, **fields}},
    )
