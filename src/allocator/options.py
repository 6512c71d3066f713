"""What a run solves and how: options that compose, one group per concern.

``RunOptions`` names the model and its recipe overrides, holds the solver's ``SolveOptions``
and the optional parts of a run (re-planning against last period's plan, bottleneck prices).
Batch and bench options hold a ``RunOptions`` rather than repeating its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from allocator.errors import OptionsError
from allocator.formulation import Recipe, Stability, load_recipe
from allocator.solve import SolveOptions

if TYPE_CHECKING:
    from allocator.results import Plan

__all__ = ["RollingOptions", "RunOptions", "SolveOptions"]


@dataclass(frozen=True)
class RollingOptions:
    """Re-planning against last period's plan.

    ``previous_plan`` is the MIP start (when ``warm_start``) and the reference of the stability
    term: moving a lot off its previous corridor costs ``stability_weight`` per TEU (``lot``
    scope) or per TEU of leg flow that changes (``leg`` scope). A batch fills ``previous_plan``
    job by job.
    """

    previous_plan: Plan | None = field(default=None, repr=False, compare=False)
    stability_weight: float = 0.0
    stability_scope: Literal["lot", "leg"] = "lot"
    warm_start: bool = True

    def stability(self) -> Stability | None:
        """The ``build`` input of re-planning: last period's routes and leg volumes with the
        weight and scope (None without a previous plan)."""
        prev = self.previous_plan
        if prev is None:
            return None
        return Stability(prev.routes, prev.legs, self.stability_weight, self.stability_scope)


AUTO = "auto"
AUTO_EXACT = "colgen"
AUTO_REPLAN = "arc-strong"


@dataclass(frozen=True)
class RunOptions:
    """What to solve and how.

    ``model`` is a recipe name from ``models/``, a path to a recipe file, or ``auto`` (the
    default): the exact method for the instance (``resolve_model``); ``linking``,
    ``aggregate``, ``integer_teu``, ``paths`` and ``step_minutes`` (the time family's grid) override
    the recipe's options (``None``: the recipe's). In ``solve``, ``None`` time limit, gap and threads take the instance settings.
    ``prices`` adds bottleneck prices (one more LP solve), as the CLI does by default.
    """

    model: str | Path = AUTO
    linking: str | None = None
    aggregate: str | None = None
    integer_teu: bool | None = None
    paths: int | None = None
    step_minutes: float | None = None
    solve: SolveOptions = field(default_factory=SolveOptions)
    rolling: RollingOptions | None = None
    prices: bool = True

    def __post_init__(self) -> None:
        """Refuse ``paths`` below 1 and a step of no minutes (OptionsError, exit 2); ``solve``
        checks its own values."""
        if self.paths is not None and not self.paths >= 1:
            raise OptionsError(f"--paths must be at least 1, not {self.paths}")
        if self.step_minutes is not None and not self.step_minutes > 0:
            raise OptionsError(f"--step-minutes must be greater than 0, not {self.step_minutes:g}")

    def resolve_model(self) -> str | Path:
        """The model ``auto`` stands for: ``colgen`` (branch and price, exact with due days and
        the one that scales), or ``arc-strong`` when re-planning against last period's plan (the
        stability term is defined on arc flows; its plans say when a lot is late). Any other
        model is itself."""
        if str(self.model) != AUTO:
            return self.model
        return AUTO_REPLAN if self.rolling is not None else AUTO_EXACT

    def recipe(self) -> Recipe:
        """The recipe named by ``model`` (``auto`` resolved) with the overrides applied."""
        return load_recipe(self.resolve_model()).with_options(
            linking=self.linking,
            aggregate=self.aggregate,
            integer_teu=self.integer_teu,
            paths=self.paths,
            step_minutes=self.step_minutes,
        )
