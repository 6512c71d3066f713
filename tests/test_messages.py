"""How problems are reported: sorted, capped with the right severity, no follow-ons, one root cause,
several suggestions, magnitudes and route separators, re-validation of an edited Instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import errors_of

from allocator.errors import InstanceError, Problem
from allocator.instance.hints import close_matches, did_you_mean
from allocator.instance.io import read_raw, to_json_dict
from allocator.instance.validate import MAX_PER_KIND, read_instance, validate
from allocator.pipeline import run
from allocator.results.check import check_plan


def _tail(p: Problem) -> str:
    return p.where.rsplit("/", 1)[-1]


def test_many_warnings_of_one_kind_leave_the_instance_valid(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    n = MAX_PER_KIND + 5
    extra = "".join(f"XX_ISO{i},Depot {i},KZ,45.{i},60.0,hub,,\n" for i in range(n))
    inst = read_instance(make_instance_folder(nodes=tiny_instance_files["nodes.csv"] + extra))
    isolated = [p for p in inst.warnings if p.message.startswith("isolated node")]
    assert len(isolated) == MAX_PER_KIND
    [summary] = [p for p in inst.warnings if p.message.startswith("... and")]
    assert summary.message == "... and 5 more like 'isolated', column 'id'"
    assert summary.severity == "warning"


def test_an_invalid_cell_raises_no_follow_on_problems(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    legs = (
        tiny_instance_files["legs.csv"]
        .replace("border,reverse", "border,reverse,service_capacity_teu,max_services,service_cost")
        .replace("KZAZ,false", "KZAZ,false,fifty,2,15000")
        .replace(",true\n", ",true,,,\n")
        .replace("2000,70,500,", "2000,70,abc,")  # cost_per_teu: no "no tariff" follow-on
    )
    errors = errors_of(make_instance_folder(legs=legs))
    assert [(_tail(p), p.column, p.value, p.message) for p in errors] == [
        ("legs.csv line 2", "cost_per_teu", "abc", "expected a number"),
        ("legs.csv line 3", "service_capacity_teu", "fifty", "expected a number"),
    ]


def test_decimal_comma_in_a_comma_file_says_how_to_write_decimals(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    cargo = tiny_instance_files["cargo.csv"].replace(",30,", ',"30,5",')
    [p] = errors_of(make_instance_folder(cargo=cargo))
    assert (_tail(p), p.column, p.value) == ("cargo.csv line 3", "teu", "30,5")
    assert p.message == "expected a number (write decimals with a point, e.g. 12.5)"


def test_problems_are_sorted_by_file_and_line(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    folder = make_instance_folder(
        legs=tiny_instance_files["legs.csv"].replace("300,50,", "300,abc,"),
        cargo=tiny_instance_files["cargo.csv"].replace(",30,", ",0,").replace(",40,", ",forty,"),
    )
    errors = errors_of(folder)
    assert [(_tail(p), p.column) for p in errors] == [
        ("cargo.csv line 2", "teu"),
        ("cargo.csv line 3", "teu"),
        ("legs.csv line 3", "capacity_teu"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "where", "column", "value", "message"),
    [
        (",40,", ",1e300,", "cargo.csv line 2", "teu", "1e300", "must be at most 1e9"),
        ("300,50,", "300,2e9,", "legs.csv line 3", "capacity_teu", "2e9", "must be at most 1e9"),
    ],
)
def test_magnitudes_are_bounded(
    make_instance_folder: Any,
    tiny_instance_files: dict[str, str],
    old: str,
    new: str,
    where: str,
    column: str,
    value: str,
    message: str,
) -> None:
    table = "cargo" if "cargo" in where else "legs"
    text = tiny_instance_files[f"{table}.csv"].replace(old, new)
    [p] = errors_of(make_instance_folder(**{table: text}))
    assert (_tail(p), p.column, p.value, p.message) == (where, column, value, message)


def test_the_largest_magnitude_is_accepted(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    cargo = tiny_instance_files["cargo.csv"].replace(",40,", ",1e9,")
    assert read_instance(make_instance_folder(cargo=cargo)).cargo.loc["L1", "teu"] == 1e9


def test_ids_must_not_contain_the_route_separator(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    legs = tiny_instance_files["legs.csv"].replace("MNG-BAK,", "MNG > BAK,")
    [p] = errors_of(make_instance_folder(legs=legs))
    assert (_tail(p), p.column, p.value) == ("legs.csv line 3", "id", "MNG > BAK")
    assert p.message.startswith("an id must not contain ' > '")


def test_missing_borders_table_is_one_root_cause(make_instance_folder: Any) -> None:
    folder = make_instance_folder(
        borders=None, restrictions="class,scope,target\nreefer,border,KZAZ\n"
    )
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text().replace('borders = "borders.csv"\n', ""))
    [p] = errors_of(folder)
    assert p.where == str(folder / "instance.toml")
    assert p.message == "table 'borders' is missing; 1 leg and 1 restriction name a border"


def test_several_close_ids_are_offered(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    nodes = (
        tiny_instance_files["nodes.csv"] + "KZ_ALA,Ala,KZ,45,60,hub,,\nKZ_YAL,Yal,KZ,45,61,hub,,\n"
    )
    legs = tiny_instance_files["legs.csv"].replace("AAU-MNG,KZ_AAU,", "AAU-MNG,KZ_AL,")
    [p] = errors_of(make_instance_folder(nodes=nodes, legs=legs))
    assert p.message == "unknown node; expected an id in nodes (did you mean 'KZ_ALA' or 'KZ_YAL'?)"


def test_close_matches_keep_only_near_ties() -> None:
    assert close_matches("AZ_AL", ["AZ_ALA", "AZ_YAL", "KZ_AAU"]) == ["AZ_ALA", "AZ_YAL"]
    assert close_matches("KZ_AKT", ["KZ_AAU", "AZ_BAK"]) == ["KZ_AAU"]  # weak: only the best
    assert did_you_mean("rial", ["rail", "road"]) == " (did you mean 'rail'?)"
    assert did_you_mean("a", ["x", "y", "z"]) == ""
    three = did_you_mean("node_1", ["node_2", "node_3", "node_4", "other"])
    assert three == " (did you mean 'node_2', 'node_3' or 'node_4'?)"


def test_json_key_given_twice_is_an_error(tiny_folder: Path, tmp_path: Path) -> None:
    doc = to_json_dict(read_instance(tiny_folder))
    text = json.dumps(doc).replace('"teu": 40', '"teu": 40, "teu": 4', 1)
    path = tmp_path / "tiny.json"
    path.write_text(text)
    [p] = errors_of(path)
    assert p.where == "tiny.json"
    assert p.message == "key 'teu' is given twice in one object; keep one"


# ---------------------------------------------------------------- re-validation


def test_validate_rechecks_an_edited_instance(eurasia: Any) -> None:
    again = validate(eurasia)
    for name in ("nodes", "legs", "borders", "classes", "cargo", "restrictions", "tariffs"):
        assert getattr(again, name).equals(getattr(eurasia, name)), name
    assert again.settings == eurasia.settings
    legs = eurasia.legs.copy()
    legs.loc["KZ_KUR-AZ_ALA", "service_capacity_teu"] = -50
    edited = type(eurasia)(**{**eurasia.__dict__, "legs": legs})
    with pytest.raises(InstanceError) as info:
        validate(edited)
    [p] = info.value.problems
    assert (p.where, p.column, p.value) == ("legs 'KZ_KUR-AZ_ALA'", "service_capacity_teu", -50.0)
    assert p.message == "must be greater than 0"


def test_an_edited_reverse_leg_stays_a_leg_of_its_own(tiny_folder: Path) -> None:
    inst = read_instance(tiny_folder)
    inst.legs.loc["AAU-MNG~r", "capacity_teu"] = 7.0
    again = validate(inst)
    assert again.legs.loc["AAU-MNG~r", "capacity_teu"] == 7.0
    assert again.legs.loc["AAU-MNG~r", "from"] == "KZ_MNG"
    assert pd_isna(again.legs.loc["AAU-MNG", "capacity_teu"])
    assert sorted(again.legs.index) == sorted(inst.legs.index)
    inst.cargo.loc["L1", "teu"] = float("nan")
    with pytest.raises(InstanceError, match="cargo 'L1', column 'teu'"):
        validate(inst)


def pd_isna(value: Any) -> bool:
    return value != value  # NaN


def test_validate_of_raw_tables_still_works(tiny_folder: Path) -> None:
    inst = validate(read_raw(tiny_folder))
    assert len(inst.cargo) == 2


# ---------------------------------------------------------------- the checker


def test_empty_legs_table_solves_and_the_plan_checks(
    make_instance_folder: Any, tiny_instance_files: dict[str, str]
) -> None:
    legs_header = tiny_instance_files["legs.csv"].splitlines()[0] + "\n"
    borders_header = tiny_instance_files["borders.csv"].splitlines()[0] + "\n"
    inst = read_instance(make_instance_folder(legs=legs_header, borders=borders_header))
    assert inst.legs.empty
    res = run(inst)
    assert res.plan is not None
    # nothing moves: each lot pays the default penalty (10,000 per TEU, 40 + 30 TEU)
    assert res.plan.objective == pytest.approx(70 * 10_000)
    report = check_plan(res.plan, inst)
    assert report.ok, report.errors
    assert report.recomputed_objective == pytest.approx(70 * 10_000)
