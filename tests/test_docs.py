"""docs/format.md and docs/instance.schema.json are generated from the schema, docs/formulation.md
from the recipes and blocks; none can drift."""

from __future__ import annotations

import copy
import csv
import json
import math
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from allocator.formulation.docs import NOTATION, math_of_page, render_formulation_md
from allocator.formulation.docs import main as formulation_main
from allocator.instance.generate import generate_instance
from allocator.instance.io import to_json_dict
from allocator.instance.schema import Settings, load_schema
from allocator.instance.schema.docs import json_schema, main, render_format_md, render_json_schema
from allocator.instance.validate import read_instance

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "regenerate with: python -m allocator.instance.schema.docs"


def _validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in _validator().iter_errors(json.loads(json.dumps(doc)))]


def test_format_md_is_generated() -> None:
    assert (DOCS / "format.md").read_text(encoding="utf-8") == render_format_md(), REGENERATE


def test_instance_schema_json_is_generated() -> None:
    text = (DOCS / "instance.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == json_schema(), REGENERATE
    assert text == render_json_schema(), REGENERATE


def test_schema_csvs_are_well_formed() -> None:
    """Every row has exactly the header's fields (an unquoted comma would split a description)."""
    folder = files("allocator.instance.schema")
    names = ["tables.csv"] + [f"{t}.csv" for t in load_schema()]
    for name in names:
        rows = list(csv.reader(folder.joinpath(name).read_text(encoding="utf-8").splitlines()))
        width = len(rows[0])
        bad = [i + 1 for i, row in enumerate(rows) if row and len(row) != width]
        assert bad == [], f"{name}: lines {bad} do not have {width} fields"


def test_format_md_covers_every_table_column_and_setting() -> None:
    md = render_format_md()
    for ts in load_schema().values():
        assert f"### {ts.name}\n\n{ts.description}" in md
        for col in ts.columns:
            assert f"| `{col.name}` | {col.type} |" in md
            assert col.description.replace("|", "\\|") in md
    for name, field in Settings.model_fields.items():
        assert f"| `{name}` |" in md
        assert field.description
        assert field.description in md
    for text in (
        "instance.toml",
        "[tables]",
        "../network/nodes.csv",
        "`circuity.rail`",
        '{"settings": {',
        "| 0 |",
        "| 2 |",
        "the header is line 1",
        "cargo[5]",
        "### Warnings",
    ):
        assert text in md


def test_format_md_shows_bounds_values_and_references() -> None:
    md = render_format_md()
    assert "| `teu` | float | TEU |  | yes | > 0 |" in md
    assert "| `lat` | float | deg |  | yes | -90 ≤ value ≤ 90 |" in md
    assert "one of `rail`, `road`, `sea`, `ferry`, `river`" in md
    assert "| `from` | str |  |  | yes | id of a row in `nodes` |" in md
    assert "| `reverse` | bool |  | `false` | no |" in md
    assert '| `unserved` | `penalty` or `forbid` | `"penalty"` |' in md
    assert "| `time_limit_s` | float | `60` | > 0 |" in md


def test_json_schema_accepts_the_tiny_instance(tiny_folder: Path) -> None:
    assert _errors(to_json_dict(read_instance(tiny_folder))) == []


def test_json_schema_accepts_a_generated_instance() -> None:
    assert _errors(to_json_dict(generate_instance(nodes=40, lots=60, seed=1))) == []


def test_json_schema_rejects_an_unknown_table(tiny_folder: Path) -> None:
    doc = to_json_dict(read_instance(tiny_folder))
    doc["cargos"] = []
    assert any("'cargos' was unexpected" in m for m in _errors(doc))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d["cargo"][0].update(teu=0), "less than or equal to the minimum of 0"),
        (lambda d: d["legs"][0].update(mode="plane"), "'plane' is not one of"),
        (lambda d: d["nodes"][0].update(lat=95), "95 is greater than the maximum of 90"),
        (lambda d: d["nodes"][0].pop("country"), "'country' is a required property"),
        (lambda d: d["legs"][0].update(reverse="maybe"), "'maybe' is not of type 'boolean'"),
        (lambda d: d["legs"][0].update(capacity_teu=-1), "-1 is less than the minimum of 0"),
        (lambda d: d["settings"].update(unserved="maybe"), "'maybe' is not one of"),
        (lambda d: d["settings"].update(perod="x"), "'perod' was unexpected"),
        (lambda d: d["settings"].pop("name"), "'name' is a required property"),
        (lambda d: d.pop("legs"), "'legs' is a required property"),
        (lambda d: d["nodes"][1].update(country="kz"), "does not match"),
    ],
)
def test_json_schema_rejects_what_validation_rejects(
    tiny_folder: Path, change: Any, fragment: str
) -> None:
    doc = copy.deepcopy(to_json_dict(read_instance(tiny_folder)))
    change(doc)
    assert any(fragment in m for m in _errors(doc)), _errors(doc)


def test_json_schema_allows_extra_columns_nulls_and_partial_mode_settings(
    tiny_folder: Path,
) -> None:
    doc = to_json_dict(read_instance(tiny_folder))
    doc["cargo"][0]["customer"] = "ACME"
    doc["cargo"][0]["due_days"] = None
    doc["settings"]["circuity"] = {"rail": 1.4}
    assert _errors(doc) == []


def test_module_writes_both_files(tmp_path: Path) -> None:
    assert main(["--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "format.md").read_text(encoding="utf-8") == render_format_md()
    assert json.loads((tmp_path / "instance.schema.json").read_text()) == json_schema()


def test_module_prints_format_md_with_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "allocator.instance.schema.docs", "--stdout"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    )
    assert result.stdout == render_format_md()


def test_models_readme_names_every_recipe_and_each_has_its_math() -> None:
    from allocator.formulation import available, load_recipe

    readme = (DOCS.parent / "models" / "README.md").read_text(encoding="utf-8")
    for name in available():
        assert f"[{name}.yaml]({name}.yaml)" in readme, f"models/README.md does not list {name}"
        recipe = load_recipe(name)
        missing = set(recipe.blocks) - set(recipe.math)
        assert not missing, f"{name}: no math for {sorted(missing)}"


# ---------------------------------------------------------------- docs/formulation.md

# LaTeX commands that are operators or layout, not symbols
_LATEX_WORDS = (
    "sum|min|le|ge|forall|in|notin|quad|qquad|textstyle|big|Big|tfrac|frac|dots|ni|cdot|infty"
)


def _unexplained(tex: str, forms: list[str]) -> str:
    """What of ``tex`` is left once the notation's symbols, words in ``\\text{}``, operators and
    layout are taken out: '' when every symbol is explained."""
    longer = sorted((f for f in forms if len(f) > 1), key=len, reverse=True)
    for form in longer:
        tex = tex.replace(form, " ")
    tex = re.sub(r"\\(text|mathrm)\{[^{}]*\}", " ", tex)
    tex = re.sub(rf"\\({_LATEX_WORDS})(?![A-Za-z])", " ", tex)
    for letter in (f for f in forms if len(f) == 1):
        tex = re.sub(rf"(?<![A-Za-z\\]){letter}(?![A-Za-z])", " ", tex)
    return "".join(re.findall(r"\\?[A-Za-z]+", tex))


def test_formulation_md_is_generated() -> None:
    text = (DOCS / "formulation.md").read_text(encoding="utf-8")
    assert text == render_formulation_md(), "regenerate with: python -m allocator.formulation.docs"


def test_formulation_md_shows_every_recipe_and_block_with_its_math() -> None:
    from allocator.formulation import available, load_recipe

    md = render_formulation_md()
    blocks = math_of_page(md)
    for name in available():
        recipe = load_recipe(name)
        assert f"| `{name}` | {recipe.family} |" in md
        for block in recipe.blocks:
            assert f"### {block}\n" in md
            assert " ".join(recipe.math[block].split()) in blocks, (name, block)
    assert " ".join(load_recipe("colgen").math["pricing"].split()) in blocks
    assert "### define_co2_limit" in md
    assert "### define_capacity_slack" in md  # in no recipe: its math comes from its docstring


def test_formulation_notation_explains_every_symbol_and_lists_no_other() -> None:
    md = render_formulation_md()
    forms = [f for symbols in NOTATION.values() for s in symbols for f in s.forms]
    left = {tex: _unexplained(tex, forms) for tex in math_of_page(md)}
    assert {tex: rest for tex, rest in left.items() if rest} == {}
    # the checker itself catches an unexplained symbol
    assert _unexplained(r"\sum_g x_{ga} \le Z_a + \omega", forms) == r"Z\omega"
    body = "\n".join(math_of_page(md.split("## Recipes")[1]))  # the math outside the notation
    unused = [f for f in forms if f not in body]
    assert unused == []
    for symbol in ("g", "a", "A_g", "q_k", "U_a", "K_a", "S_a", "H_j", "\\pi_k"):
        assert f"${symbol}$" in md.split("## Recipes")[0], symbol


def test_formulation_module_writes_the_page(tmp_path: Path) -> None:
    assert formulation_main(["--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "formulation.md").read_text(encoding="utf-8") == render_formulation_md()


# ---------------------------------------------------------------- the worked route in planning.md

ROUTE = (
    "CN_XIA-CN_URM",
    "CN_URM-CN_ALS",
    "CN_ALS-KZ_DOS",
    "KZ_DOS-RU_MOW",
    "RU_MOW-BY_BQT",
    "BY_BQT-PL_MAA",
    "PL_MAA-DE_DUI",
)


def _eurasia_rows(table: str) -> dict[str, dict[str, str]]:
    path = DOCS.parent / "instances" / "eurasia" / f"{table}.csv"
    with path.open(encoding="utf-8") as f:
        return {row.get("id", str(i)): row for i, row in enumerate(csv.DictReader(f))}


def _route_by_hand() -> tuple[list[list[float]], dict[str, float]]:
    """Per leg of ROUTE: km, freight, border, handling, hours, time value, total; from the CSV
    files and instance.toml alone, by the rules of docs/solving.md (no allocator code)."""
    import tomllib

    eurasia = DOCS.parent / "instances" / "eurasia"
    settings = tomllib.loads((eurasia / "instance.toml").read_text(encoding="utf-8"))["settings"]
    nodes, legs, borders = _eurasia_rows("nodes"), _eurasia_rows("legs"), _eurasia_rows("borders")
    tariffs = list(_eurasia_rows("tariffs").values())
    per_day = float(_eurasia_rows("classes")["general"]["value_per_teu_day"])
    rows, extra = [], {}
    for leg_id in ROUTE:
        leg = legs[leg_id]
        a, b, mode = nodes[leg["from"]], nodes[leg["to"]], leg["mode"]
        assert leg["distance_km"] == leg["transit_hours"] == leg["cost_per_teu"] == ""
        lat1, lat2 = math.radians(float(a["lat"])), math.radians(float(b["lat"]))
        dlon = math.radians(float(b["lon"]) - float(a["lon"]))
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        )
        great_circle = 2 * 6371.0088 * math.asin(math.sqrt(h))  # mean Earth radius (IUGG)
        km = great_circle * settings["circuity"][mode]
        [band] = [
            t
            for t in tariffs
            if t["mode"] == mode
            and float(t["from_km"]) <= km
            and (t["to_km"] == "" or km < float(t["to_km"]))
        ]
        freight = float(band["fixed_per_teu"]) + float(band["cost_per_teu_km"]) * km
        crossing = borders.get(leg["border"])
        border = dwell = 0.0
        if crossing is not None:
            border = float(crossing["fee_per_teu"])
            if crossing["gauge_change"] == "true":
                border += float(crossing["transshipment_cost_per_teu"])
            dwell = float(crossing["dwell_hours"])
        handling = float(b["handling_cost_per_teu"] or 0)
        hours = km / settings["speed_kmh"][mode] + dwell + float(b["dwell_hours"] or 0)
        time_value = per_day * hours / 24
        rows.append([km, freight, border, handling, hours, time_value])
        rows[-1].append(freight + border + handling + time_value)
        if leg_id == "KZ_DOS-RU_MOW":
            extra["great_circle"] = great_circle
    total = [sum(column) for column in zip(*rows, strict=True)]
    co2_kg = settings["co2_kg_per_teu_km"]["rail"] * total[0]
    extra |= {"days": total[4] / 24, "co2_kg": co2_kg, "co2_usd": co2_kg / 1000 * 100}
    return [*rows, total], extra


def _section() -> str:
    text = (DOCS / "planning.md").read_text(encoding="utf-8")
    return text.split("## What a route costs: a worked example")[1].split("\n## ")[0]


def test_the_worked_route_cost_matches_the_instance_data() -> None:
    rows, extra = _route_by_hand()
    section = _section()
    table = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(ROUTE) + 1
    decimals = (1, 2, 2, 2, 1, 2, 2)  # km, freight, border, handling, hours, time value, total
    for line, leg_id, want in zip(table, [*ROUTE, ""], rows, strict=True):
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        assert cells[1] == (f"`{leg_id}`" if leg_id else "")
        shown = [f"{v:,.{d}f}" for v, d in zip(want, decimals, strict=True)]
        assert cells[2:] == shown, (leg_id, cells[2:], shown)
    total = rows[-1][-1]
    assert abs(total - 2579.96) < 0.005  # as SOURCES.md §7 states for XIA-DUI-G01
    for text in (
        f"says {total:,.2f} USD per TEU and {extra['days']:.2f} days",
        f"{extra['great_circle']:,.1f} km great circle, {rows[3][0]:,.1f} km by rail",
        f"115 + 0.06 ×\n  {rows[3][0]:,.1f} = {rows[3][1]:,.2f}",
        f"{rows[3][0]:,.1f} / 35 + 8 + 8 = {rows[3][4]:.1f} h",
        f"{rows[-1][4]:.1f} h =\n  {extra['days']:.2f} days",
        f"{rows[-1][0]:,.1f} km = {extra['co2_kg']:,.1f} kg of CO2, {extra['co2_usd']:,.2f} USD",
    ):
        assert text in section, text


def test_the_worked_route_is_the_plans_route() -> None:
    import allocator

    res = allocator.run(DOCS.parent / "instances" / "eurasia")
    routes = res.plan.table("routes").loc["XIA-DUI-G01"]
    assert len(routes) == 1
    route = routes.iloc[0]
    assert route["legs"] == " > ".join(ROUTE)
    assert abs(route["cost_per_teu"] - _route_by_hand()[0][-1][-1]) < 1e-6
    prices = res.plan.corridor_prices.set_index(["class", "origin", "destination", "corridor"])
    lane = prices.loc[("general", "CN_XIA", "DE_DUI")]
    section = _section()
    for corridor in ("sea", "middle"):
        assert f"{lane.loc[corridor, 'cost_per_teu']:,.2f}" in section
