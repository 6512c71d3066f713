"""The formulation page, generated from the recipes (``models/*.yaml``) and the ``define_*`` blocks.

``python -m allocator.formulation.docs`` writes ``docs/formulation.md`` (``--out-dir`` to write
elsewhere, ``--stdout`` to print it). ``tests/test_docs.py`` compares the committed page with
:func:`render_formulation_md` and checks that the notation explains every symbol of its math.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from allocator.formulation import BLOCKS, available, load_recipe
from allocator.formulation.recipe import Recipe, models_dir

__all__ = ["NOTATION", "Symbol", "main", "math_of_page", "render_formulation_md"]

# blocks are shared within a family
FAMILIES = {"arc": ("arc",), "path": ("path", "colgen"), "time": ("time", "ddd")}
FAMILY_TITLES = {
    "arc": "arc family",
    "path": "path family (path and column generation)",
    "time": "time family (time-expanded network)",
}
FAMILY_NOTES = {
    "arc": "One flow variable $x_{ga}$ per group and usable leg.\n",
    "path": "One flow variable $h_{kp}$ per commodity and path; the TEU of commodity $k$ on leg "
    "$a$ is the expression $x_{ka}$ of `define_path_flow`, so the capacity, service, border, "
    "terminal and linking blocks are those of the arc family with $g = k$ (their descriptions "
    "speak of groups).\n",
    "time": "One share $z_{ke}$ per timed commodity and timed arc $e$ of its time-expanded network "
    "(grid step: recipe option `step_minutes`); the TEU of commodity $k$ on leg $a$ over the week "
    "is the expression $x_{ka}$ of `define_timed_flow`, so the per-period leg, border, terminal, "
    "service and linking blocks are those of the arc family with $g = k$. Hours are rounded up to "
    "the grid, release times up and due times down "
    "([what the time family rounds](solving.md#the-time-family-planning-the-week-in-time)).\n",
}


@dataclass(frozen=True)
class Symbol:
    """One entry of the notation table: the symbol as the math writes it (one or more forms),
    what it stands for and where its value comes from."""

    forms: tuple[str, ...]
    meaning: str
    source: str = ""


_SETS = "Indices and sets"
_DATA = "Data"
_VARIABLES = "Variables"
_DUALS = "Duals (column generation)"

NOTATION: dict[str, tuple[Symbol, ...]] = {
    _SETS: (
        Symbol(("i", "j"), "a node", "`nodes`"),
        Symbol(("a",), "a leg $a = (i, j)$, one direction", "`legs` (`X~r`: the reverse of `X`)"),
        Symbol(("b",), "a border crossing", "`borders`"),
        Symbol(
            ("k",),
            "a commodity: the lots with the same origin, destination, class, due days and "
            "penalty (time family: those of them ready at the same time; each lot on its own "
            "under `unsplittable_lots`)",
            "`cargo`",
        ),
        Symbol(
            ("g",),
            "a flow group: one commodity, or (`arc-agg`) every commodity of one origin and class",
            "recipe option `aggregate`",
        ),
        Symbol(("c", "c(g)"), "a cargo class (of group $g$)", "`classes`"),
        Symbol(("p",), "a path: a sequence of legs from a commodity's origin to its destination"),
        Symbol(("r",), "a capacity row (leg, service, border, terminal or linking)"),
        Symbol(
            ("A_g",),
            "the legs group $g$ may use: allowed for its class and on some path within its due "
            "days (the flow variables the model keeps)",
            "`restrictions`, `cargo.due_days`",
        ),
        Symbol(("A^S",), "service legs: run by departures", "legs with `service_capacity_teu`"),
        Symbol(("A^F",), "candidate legs: opened at a fixed cost", "legs with `fixed_cost` > 0"),
        Symbol(("A_b",), "the legs that name border $b$ (both directions)", "`legs.border`"),
        Symbol(
            ("\\delta^+(i)", "\\delta^-(i)", "\\delta^-(j)"),
            "the legs leaving / entering node $i$ (node $j$)",
        ),
        Symbol(
            ("P_k",),
            "the paths of commodity $k$: its $K$ cheapest loopless paths within its class "
            "restrictions and due days (path); the paths priced so far (column generation)",
        ),
        Symbol(("K",), "paths per commodity", "recipe option `paths`, `--paths` (default 10)"),
        Symbol(
            ("e",),
            "a timed arc of commodity $k$ (time family): a leg arc, leaving a leg's tail at a "
            "grid time and at its head (dwell done) at the first grid time not earlier than "
            "reality, or a waiting arc at a node",
        ),
        Symbol(("v",), "a timed node: a node at a grid time (time family)"),
        Symbol(
            ("L_k", "L_k(a)", "L_k(\\sigma)"),
            "the leg arcs of commodity $k$ (on leg $a$; leaving on departure slot $\\sigma$)",
        ),
        Symbol(
            ("N_k",),
            "the timed nodes of commodity $k$: where it can be between its release and its "
            "due time",
        ),
        Symbol(
            ("\\delta^+_k(v)", "\\delta^-_k(v)"),
            "the timed arcs of commodity $k$ leaving / entering timed node $v$",
        ),
        Symbol(
            ("\\sigma", "\\sigma'"),
            "a departure slot: a grid time at which a leg dispatched on demand may send "
            "departures, or one run of a timetabled departure",
            "`legs.service_capacity_teu`, `departures`",
        ),
        Symbol(("D_a",), "the departure slots of leg $a$ dispatched on demand"),
        Symbol(
            ("\\gamma",),
            "a row of carried flow: a lot of last week's plan on one leg, leaving at a given time",
            "`carried`",
        ),
        Symbol(("\\theta",), "a day: 24 hours from Monday 00:00 of the week, or of the runoff"),
    ),
    _DATA: (
        Symbol(
            ("q_k", "q_g"),
            "TEU of commodity $k$ (of group $g$: the sum over its commodities)",
            "`cargo.teu`",
        ),
        Symbol(
            ("o_k", "d_k"),
            "origin and destination of commodity $k$",
            "`cargo.origin`, `cargo.destination`",
        ),
        Symbol(
            ("\\mathrm{due}_k",), "due days of commodity $k$", "`cargo.due_days` (empty: no limit)"
        ),
        Symbol(
            ("C_{ga}", "C_{ka}"),
            "generalised cost per TEU of the class on leg $a$: freight, border fee and "
            "transshipment, handling at the leg's end, time value and CO2 price "
            "([how it is computed](solving.md#generalised-cost-of-a-leg))",
            "`legs`, `tariffs`, `borders`, `nodes`, `classes`, settings",
        ),
        Symbol(("c_{kp}",), "cost per TEU of path $p$: the sum of $C_{ka}$ over its legs"),
        Symbol(
            ("T_{ka}", "T_{c(g),a}"),
            "hours of leg $a$: transit, border dwell and dwell at the leg's end",
            "`legs.transit_hours` or distance / `speed_kmh`, `borders.dwell_hours`, "
            "`nodes.dwell_hours`",
        ),
        Symbol(
            ("U_a",),
            "capacity of leg $a$ per period, TEU",
            "`legs.capacity_teu` (empty: unlimited)",
        ),
        Symbol(
            ("U_b",),
            "capacity of border $b$ per period, TEU, both directions",
            "`borders.capacity_teu`",
        ),
        Symbol(
            ("K_a",), "TEU slots of one departure of service leg $a$", "`legs.service_capacity_teu`"
        ),
        Symbol(
            ("S_a",),
            "most departures of service leg $a$ per period",
            "`legs.max_services` (empty: unlimited)",
        ),
        Symbol(("c^S_a",), "cost of one departure of service leg $a$", "`legs.service_cost`"),
        Symbol(("F_a",), "fixed cost of opening candidate leg $a$", "`legs.fixed_cost`"),
        Symbol(
            ("H_j",), "TEU that may arrive at node $j$ per period", "`nodes.handling_capacity_teu`"
        ),
        Symbol(
            ("\\pi_k",),
            "cost of leaving one TEU of commodity $k$ unmoved",
            "`cargo.penalty_per_teu`, else settings `default_penalty_per_teu`",
        ),
        Symbol(
            ("e_a",),
            "kg CO2 per TEU on leg $a$",
            "`legs.co2_kg_per_teu_km` (else settings) × distance",
        ),
        Symbol(("\\varepsilon",), "the cap of an epsilon-constraint row", "`allocator pareto`"),
        Symbol(("W",), "stability weight per TEU changed", "`--stability-weight` (re-planning)"),
        Symbol(("\\bar q_\\gamma",), "TEU of carried row $\\gamma$", "`carried.teu`"),
        Symbol(
            ("\\bar Q_\\sigma",),
            "carried TEU aboard the departures of slot $\\sigma$",
            "`carried` rows leaving on it",
        ),
        Symbol(
            ("\\bar n_\\sigma",),
            "departures of slot $\\sigma$ already run for carried flow (paid last week): one "
            "timetable run, or the fewest on demand that carry $\\bar Q_\\sigma$",
            "`carried`",
        ),
        Symbol(
            ("r_k",),
            "release of commodity $k$: its lots' `ready_at` rounded up to the grid",
            "`cargo.ready_at`",
        ),
        Symbol(
            ("t_e", "t_\\sigma", "t_{\\sigma'}"),
            "hours from the week start at which arc $e$ (slot $\\sigma$) leaves: its grid time, "
            "or the timetable's time",
            "`departures.day`, `departures.time`",
        ),
        Symbol(
            ("T^0_a",),
            "hours until leg $a$ reaches its head: transit and border dwell",
            "`legs.transit_hours`, `borders.dwell_hours`",
        ),
        Symbol(
            ("C^T_{ke}",),
            "cost per TEU of commodity $k$ on leg arc $e$: freight, border fee and transshipment, "
            "handling and CO2 price of its leg, and on the arc that reaches the destination the "
            "time value of the door-to-door hours from ready to arrival, waiting included",
            "`legs`, `borders`, `nodes`, `classes`, settings",
        ),
        Symbol(
            ("K_\\sigma",),
            "TEU slots of one departure of slot $\\sigma$",
            "`legs.service_capacity_teu`, `departures.capacity_teu`",
        ),
        Symbol(
            ("c_\\sigma",),
            "cost of one departure of slot $\\sigma$",
            "`legs.service_cost`, `departures.cost`",
        ),
        Symbol(
            ("\\eta_a",),
            "least hours between two departures of leg $a$",
            "`legs.min_headway_hours`",
        ),
        Symbol(
            ("U^D_b",),
            "TEU border $b$ processes per day, both directions",
            "`borders.capacity_teu_per_day`",
        ),
        Symbol(
            ("H^D_j",),
            "TEU node $j$ handles per day",
            "`nodes.handling_capacity_teu_per_day`",
        ),
        Symbol(
            ("\\bar x_{ga}",),
            "last period's TEU of the group's lots on leg $a$",
            "the previous week's plan (re-planning, scope `lot`)",
        ),
        Symbol(
            ("\\bar v_a",), "last period's TEU on leg $a$", "the previous week's plan (scope `leg`)"
        ),
    ),
    _VARIABLES: (
        Symbol(
            ("x_{ga}", "x_{ka}"),
            "TEU of group $g$ (commodity $k$) on leg $a$",
            "plan table `flows`",
        ),
        Symbol(("u_k",), "TEU of commodity $k$ left unmoved", "plan table `unserved`"),
        Symbol(("s_a",), "departures run on service leg $a$", "plan table `legs.services`"),
        Symbol(("y_a",), "1 when candidate leg $a$ is opened", "plan table `legs.opened`"),
        Symbol(("h_{kp}",), "TEU of commodity $k$ on path $p$", "plan table `routes`"),
        Symbol(
            ("z_{ke}",),
            "share of commodity $k$ on timed arc $e$ (binary on leg arcs with unsplittable lots)",
            "plan tables `timeline`, `routes`",
        ),
        Symbol(
            ("n_\\sigma",),
            "departures run at slot $\\sigma$",
            "plan table `departures`",
        ),
        Symbol(
            ("\\delta^+_{ga}", "\\delta^-_{ga}", "\\delta^+_a", "\\delta^-_a", "\\delta^\\pm"),
            "TEU above / below last period's (re-planning)",
        ),
        Symbol(
            ("e^L_a", "e^S_a", "e^B_b", "e^T_j", "e_r"),
            "extra capacity of a leg, service, border or terminal row (the elastic re-solve that "
            "explains an infeasible instance)",
            "why-not details",
        ),
    ),
    _DUALS: (
        Symbol(("\\lambda_k",), "dual of the balance row of commodity $k$"),
        Symbol(
            ("\\mu_r",),
            "dual of a shared row $r$ leg $a$ is in (leg, service, border, terminal, weak linking)",
        ),
        Symbol(("\\mu^{S}_{ka}",), "dual of the strong linking row of commodity $k$ on leg $a$"),
    ),
}

_TOOL_ROWS = {
    "pricing": "Column generation's pricing (`allocator.methods.colgen`): per commodity, a path of "
    "negative reduced cost within the due days, found by a resource-constrained shortest path; it "
    "joins the master LP, which is solved again, until no path prices out.",
}
_ROLE_OF_TOOL = {
    "define_co2_limit": "`allocator pareto --objectives cost,co2`",
    "define_days_limit": "`allocator pareto --objectives cost,days`",
    "define_capacity_slack": "the why-not details of an infeasible instance under `forbid`",
    "pricing": "the `colgen` method",
}

_INTRO = """\
# Formulation

<!-- Generated by `python -m allocator.formulation.docs` from models/*.yaml and the define_*
     docstrings in src/allocator/formulation/; do not edit by hand (tests/test_docs.py checks
     it). -->

allocator builds one mixed-integer program per run from a *recipe*, `models/<name>.yaml`: a model
family, its options, and the list of `define_*` blocks (one variable or constraint family each, a
function in `src/allocator/formulation/`) with the LaTeX of each block. This page shows the
notation, which recipe uses which block, and the math of every block. How the cost $C_{ga}$ of a
leg is computed is in [solving.md](solving.md#generalised-cost-of-a-leg); a worked example for one
route is in [planning.md](planning.md#what-a-route-costs-a-worked-example).
"""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _rst(text: str) -> str:
    """A docstring paragraph as markdown: ``:math:`x``` to ``$x$``, double backquotes to one."""
    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    return text.replace("``", "`")


def _doc_parts(name: str) -> tuple[str, str]:
    """A block's description (its docstring's first paragraph) and the docstring's
    ``.. math::`` block ('' if none)."""
    doc = (BLOCKS[name].__doc__ or "").strip() if name in BLOCKS else ""
    first = doc.split("\n\n")[0]
    found = re.search(r"\.\. math::(.*?)(?:\n\s*\n|$)", doc, re.S)
    return _one_line(_rst(first)), _one_line(found.group(1)) if found else ""


def _raw(name: str) -> dict[str, object]:
    return yaml.safe_load((models_dir() / f"{name}.yaml").read_text(encoding="utf-8")) or {}


def _recipes() -> list[tuple[Recipe, dict[str, object]]]:
    """Every shipped recipe with its file's own keys, by family, base recipes first."""
    order = [f for fams in FAMILIES.values() for f in fams]
    pairs = [(load_recipe(n), _raw(n)) for n in available()]
    return sorted(pairs, key=lambda p: (order.index(p[0].family), "extends" in p[1], p[0].name))


def _value(value: object) -> str:
    """An option value as the recipe file writes it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _math(tex: str) -> str:
    return f"```math\n{_one_line(tex)}\n```\n"


def _symbol_cell(symbol: Symbol) -> str:
    return ", ".join(f"${form}$" for form in symbol.forms)


def _notation() -> str:
    parts = ["## Notation\n"]
    for title, symbols in NOTATION.items():
        rows = [
            f"| {_symbol_cell(s)} | {s.meaning} | {s.source} |".replace(" |  |", " | |")
            for s in symbols
        ]
        parts.append(
            f"### {title}\n\n| symbol | meaning | from |\n|---|---|---|\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(parts)


def _recipe_table(recipes: list[tuple[Recipe, dict[str, object]]]) -> str:
    lines = ["| recipe | family | extends | options | description |", "|---|---|---|---|---|"]
    for recipe, raw in recipes:
        options = ", ".join(f"`{k}={_value(v)}`" for k, v in sorted(recipe.options.items()))
        extends = f"`{raw['extends']}`" if "extends" in raw else ""
        lines.append(
            f"| `{recipe.name}` | {recipe.family} | {extends} | {options} | "
            f"{_one_line(recipe.description)} |"
        )
    return "\n".join(lines) + "\n"


def _block_matrix(recipes: list[tuple[Recipe, dict[str, object]]]) -> str:
    names = [r.name for r, _ in recipes]
    blocks = list(dict.fromkeys(b for r, _ in recipes for b in r.blocks))
    lines = ["| block | " + " | ".join(f"`{n}`" for n in names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for block in blocks:
        marks = ["✓" if block in r.blocks else "" for r, _ in recipes]
        lines.append(f"| [`{block}`](#{block}) | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


def _family_blocks(family: str, recipes: list[tuple[Recipe, dict[str, object]]]) -> str:
    members = [r for r, _ in recipes if r.family in FAMILIES[family]]
    parts = [f"## Blocks of the {FAMILY_TITLES[family]}\n", FAMILY_NOTES[family]]
    for block in dict.fromkeys(b for r in members for b in r.blocks):
        users = [r for r in members if block in r.blocks]
        variants = dict.fromkeys(_one_line(r.math[block]) for r in users)
        description, _ = _doc_parts(block)
        text = [f"### {block}\n", f"{description}\n"] if description else [f"### {block}\n"]
        for tex in variants:
            named = [r.name for r in users if _one_line(r.math[block]) == tex]
            if len(variants) > 1:
                text.append(f"In {', '.join(f'`{n}`' for n in named)}:\n")
            text.append(_math(tex))
        text.append("Used by " + ", ".join(f"`{r.name}`" for r in users) + ".\n")
        parts.append("\n".join(text))
    return "\n".join(parts)


def _tool_rows(recipes: list[tuple[Recipe, dict[str, object]]]) -> str:
    """Rows written in a recipe's math but built by a tool, not by the recipe (``pareto``'s
    epsilon rows, column generation's pricing), and blocks in no recipe (the elastic re-solve)."""
    in_recipes = {b for r, _ in recipes for b in r.blocks}
    math: dict[str, str] = {}
    for recipe, _ in recipes:
        for key, tex in recipe.math.items():
            if key not in in_recipes:
                math.setdefault(key, tex)
    for name in BLOCKS:
        if name not in in_recipes and name not in math and _doc_parts(name)[1]:
            math[name] = _doc_parts(name)[1]
    parts = [
        "## Rows added by tools\n",
        "These rows are in no recipe's block list: a tool adds them to a built model.\n",
    ]
    for key, tex in math.items():
        description = _TOOL_ROWS.get(key) or _doc_parts(key)[0]
        role = _ROLE_OF_TOOL.get(key, "")
        parts.append(
            f"### {key}\n\n{description}"
            + (f" Used by {role}." if role else "")
            + "\n\n"
            + _math(tex)
        )
    return "\n".join(parts)


def _references(recipes: list[tuple[Recipe, dict[str, object]]]) -> str:
    lines = ["## References\n"]
    lines += [
        f"- `{r.name}`: {_one_line(raw['reference'])}" for r, raw in recipes if "reference" in raw
    ]
    return "\n".join(lines) + "\n"


def render_formulation_md() -> str:
    """The markdown of ``docs/formulation.md``."""
    recipes = _recipes()
    parts = [
        _INTRO,
        _notation(),
        "## Recipes\n",
        "`allocator models` lists them; `allocator solve --model NAME` (or the path of a recipe "
        "file of your own) picks one. A recipe that `extends` another changes only what it "
        "names.\n",
        _recipe_table(recipes),
        "Which recipe builds which block (the rows are added in this order):\n",
        _block_matrix(recipes),
        *[_family_blocks(f, recipes) for f in FAMILIES],
        _tool_rows(recipes),
        _references(recipes),
    ]
    return "\n".join(parts)


def math_of_page(text: str) -> list[str]:
    """Every piece of LaTeX on the page: display blocks and inline ``$...$``."""
    blocks = re.findall(r"```math\n(.*?)\n```", text, re.S)
    rest = re.sub(r"```math\n.*?\n```", "", text, flags=re.S)
    return blocks + re.findall(r"\$([^$\n]+)\$", rest)


def main(argv: list[str] | None = None) -> int:
    """Write docs/formulation.md, or print it with --stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m allocator.formulation.docs", description=__doc__
    )
    parser.add_argument("--stdout", action="store_true", help="print the page to stdout")
    parser.add_argument("--out-dir", type=Path, default=Path("docs"), help="default: docs")
    args = parser.parse_args(argv)
    text = render_formulation_md()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "formulation.md").write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {args.out_dir / 'formulation.md'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
