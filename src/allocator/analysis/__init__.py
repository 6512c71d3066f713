"""Analysis of a solved plan: re-planning comparison, bottleneck prices, why-not, trade-offs, compare.

``annotate`` runs the steps that follow ``extract`` in every run: the comparison with last
period's plan (when re-planning), bottleneck prices (when asked) and a why-not detail for every
unserved lot. A plan is never lost to a failing step: it stands without that step's columns.
"""

from __future__ import annotations

import dataclasses
import logging

from allocator.analysis import prices as bottleneck_prices
from allocator.analysis import rolling, whynot
from allocator.formulation import BuiltModel
from allocator.instance.model import Instance
from allocator.preprocess import Preprocessed
from allocator.results import Plan
from allocator.solve import SolveOptions, SolveResult

logger = logging.getLogger(__name__)

PRICES_SHARE = 0.25
"""The bottleneck-price LP's time limit as a share of the run's (at least ``PRICES_MIN_S``): on
a large instance it is one more LP the size of the model, and a plan is not held back for it."""
PRICES_MIN_S = 5.0


def annotate(
    plan: Plan,
    built: BuiltModel,
    result: SolveResult,
    inst: Instance,
    pre: Preprocessed,
    opts: SolveOptions,
    *,
    prices: bool = True,
    previous: Plan | None = None,
) -> Plan:
    """The plan with the re-planning columns (MIP start status; with ``previous``, the
    comparison), bottleneck prices (``prices``: one more LP solve; one-period models only) and a
    why-not ``detail`` for every unserved lot."""
    if previous is not None or result.mip_start_status != "none":
        plan = rolling.annotate(plan, built, result, previous)
    leg_price = None
    if prices and built.timed is not None:  # the LP prices rows of one-period models
        logger.info("%s: bottleneck prices are not computed for time models", inst.name)
    elif prices:
        try:
            limit = max(PRICES_MIN_S, PRICES_SHARE * float(opts.under().time_limit_s or 60.0))
            lp_opts = dataclasses.replace(opts, mip_start=None, time_limit_s=limit)
            plan, found = bottleneck_prices.add_prices(plan, built, inst, pre, lp_opts)
            leg_price = found.leg_price if found.ok else None
        except Exception:  # the plan stands without prices; never lose a solved plan to them
            logger.exception("%s: bottleneck prices failed; the plan has none", inst.name)
    try:
        return whynot.explain_unserved(plan, inst, pre, leg_price)
    except Exception:  # as above: the plan stands, the details say why they are missing
        logger.exception("%s: why-not explanations failed", inst.name)
        detail = "no explanation (internal error; see the log)"
        return dataclasses.replace(plan, unserved=plan.unserved.assign(detail=detail))
