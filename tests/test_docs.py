"""docs/format.md and docs/instance.schema.json are generated from the schema and cannot drift."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

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
