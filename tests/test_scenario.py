"""Scenarios: every change kind on a hand-built instance, bad files, and the shipped Eurasia ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import EURASIA
from helpers import build, leg, lot, node

from allocator.cli import main
from allocator.errors import InstanceError
from allocator.instance.io import to_json_dict
from allocator.instance.model import Instance
from allocator.instance.scenario import apply_scenario, load_scenario, scenario_from_dict
from allocator.pipeline import read_run
from allocator.results.check import check_plan

SCENARIOS = EURASIA / "scenarios"


def base() -> Instance:
    """A (KZ) -> B (KZ) by rail, B -> C (AZ) by a ferry run by departures over border KZAZ,
    C -> D (GE) by rail; a sea leg A -> C; terminal C with a handling capacity."""
    return build(
        {"name": "hand", "co2_price_per_t": 0},
        nodes=[
            node("A", "KZ"),
            node("B", "KZ"),
            node("C", "AZ", handling_capacity_teu=500),
            node("D", "GE"),
        ],
        legs=[
            leg("AB", "A", "B", 100, capacity_teu=100, corridor="middle", reverse=True),
            leg(
                "BC",
                "B",
                "C",
                300,
                mode="ferry",
                service_capacity_teu=50,
                max_services=2,
                service_cost=1000,
                border="KZAZ",
                corridor="middle",
                reverse=True,
            ),
            leg("CD", "C", "D", 200, corridor="middle", reverse=True),
            leg("AC", "A", "C", 900, mode="sea", capacity_teu=40, corridor="sea"),
        ],
        borders=[
            {
                "id": "KZAZ",
                "name": "Caspian",
                "from_country": "KZ",
                "to_country": "AZ",
                "capacity_teu": 80,
            }
        ],
        classes=[
            {"id": "general", "value_per_teu_day": 0.0},
            {"id": "reefer", "value_per_teu_day": 0.0},
        ],
        cargo=[
            lot("L1", "A", "D", 30),
            lot("L2", "A", "C", 20, "reefer"),
            lot("L3", "B", "D", 10),
        ],
    )


def apply(changes: list[dict[str, Any]], inst: Instance | None = None) -> Instance:
    sc = scenario_from_dict({"name": "s1", "base": ".", "change": changes})
    return apply_scenario(sc, inst or base())


def unchanged_except(new: Instance, old: Instance, table: str, ids: set[str]) -> None:
    """Every table other than ``table``, and every row of it not in ``ids``, is as in ``old``."""
    a, b = to_json_dict(old), to_json_dict(new)
    for name in set(a) | set(b):
        if name == "settings":
            assert {k: v for k, v in b[name].items() if k != "name"} == {
                k: v for k, v in a[name].items() if k != "name"
            }
        elif name != table:
            assert a.get(name) == b.get(name), name
    rows_a = {r["id"]: r for r in a[table]}
    rows_b = {r["id"]: r for r in b[table]}
    assert {k: v for k, v in rows_a.items() if k not in ids} == {
        k: v for k, v in rows_b.items() if k not in ids
    }


# ---------------------------------------------------------------- change kinds


def test_scale_leg_capacity_by_mode_scales_service_slots_of_both_directions() -> None:
    old = base()
    new = apply(
        [{"kind": "scale_capacity", "of": "legs", "where": {"mode": "ferry"}, "factor": 0.5}]
    )
    assert new.name == "hand+s1"
    assert new.legs.loc["BC", "service_capacity_teu"] == 25.0
    assert new.legs.loc["BC~r", "service_capacity_teu"] == 25.0
    assert new.legs.loc["BC~r", "reverse_of"] == "BC"  # still one leg with reverse = true
    assert new.legs.loc["BC", "max_services"] == 2
    unchanged_except(new, old, "legs", {"BC"})


def test_scale_departures_and_a_single_direction_by_id() -> None:
    old = base()
    new = apply(
        [
            {
                "kind": "scale_capacity",
                "of": "legs",
                "where": {"id": "BC"},
                "factor": 0.5,
                "service": "departures",
            },
            {"kind": "scale_capacity", "of": "legs", "where": {"id": ["AB~r"]}, "factor": 2},
        ]
    )
    assert new.legs.loc["BC", "max_services"] == 1
    assert new.legs.loc["BC~r", "max_services"] == 2  # the id names one direction only
    assert new.legs.loc["BC", "service_capacity_teu"] == 50.0
    assert new.legs.loc["AB~r", "capacity_teu"] == 200.0
    assert new.legs.loc["AB", "capacity_teu"] == 100.0
    assert pd.isna(new.legs.loc["AB~r", "reverse_of"])  # now a leg of its own
    assert not new.legs.loc["AB", "reverse"]
    assert len(new.legs) == len(old.legs)
    for a in ("CD", "CD~r", "AC", "AB"):
        assert new.legs.loc[a].drop("reverse").equals(old.legs.loc[a].drop("reverse")), a
    twin = ["reverse", "reverse_of"]  # BC~r is now a leg of its own, with BC's old data
    assert new.legs.loc["BC~r"].drop(twin).equals(old.legs.loc["BC~r"].drop(twin))


def test_scale_borders_by_country_and_terminals_by_id() -> None:
    old = base()
    new = apply(
        [
            {"kind": "scale_capacity", "of": "borders", "where": {"country": "AZ"}, "factor": 1.5},
            {"kind": "scale_capacity", "of": "terminals", "where": {"id": "C"}, "factor": 0.1},
        ]
    )
    assert new.borders.loc["KZAZ", "capacity_teu"] == 120.0
    assert new.nodes.loc["C", "handling_capacity_teu"] == pytest.approx(50.0)
    assert new.nodes.drop(index="C").equals(old.nodes.drop(index="C"))
    assert new.legs.equals(old.legs)
    assert new.cargo.equals(old.cargo)


def test_set_border_dwell_and_daily_capacity_and_a_terminal_dwell() -> None:
    old = base()
    new = apply(
        [
            {
                "kind": "set",
                "of": "borders",
                "where": {"id": "KZAZ"},
                "values": {"dwell_hours": 96, "capacity_teu_per_day": 15},
            },
            {
                "kind": "set",
                "of": "terminals",
                "where": {"country": "AZ"},
                "values": {"dwell_hours": 5},
            },
        ]
    )
    assert new.borders.loc["KZAZ", "dwell_hours"] == 96.0
    assert new.borders.loc["KZAZ", "capacity_teu_per_day"] == 15.0
    assert new.nodes.loc["C", "dwell_hours"] == 5.0
    assert new.nodes.drop(index="C").equals(old.nodes.drop(index="C"))
    assert new.legs.equals(old.legs)


def test_setting_an_unknown_column_names_the_change_and_a_suggestion() -> None:
    (text,) = problems_of(
        [{"kind": "set", "of": "borders", "where": {"id": "KZAZ"}, "values": {"dwel_hours": 9}}]
    )
    assert "[[change]] #1 (set)" in text
    assert "key 'values.dwel_hours'" in text
    assert "did you mean 'dwell_hours'?" in text


def test_a_set_value_out_of_range_is_located_in_the_scenario() -> None:
    (text,) = problems_of(
        [{"kind": "set", "of": "borders", "where": {"id": "KZAZ"}, "values": {"dwell_hours": -1}}]
    )
    assert "[[change]] #1 (set)" in text
    assert "dwell_hours" in text


def test_close_legs_for_listed_classes_and_a_country_for_all() -> None:
    old = base()
    new = apply(
        [
            {"kind": "close", "of": "legs", "where": {"corridor": "sea"}, "classes": ["reefer"]},
            {"kind": "close", "of": "countries", "where": {"id": "GE"}},
            {
                "kind": "close",
                "of": "borders",
                "where": {"id": "KZAZ"},
                "classes": ["general"],
                "reason": "strike",
            },
        ]
    )
    rows = set(
        zip(
            new.restrictions["class"],
            new.restrictions["scope"],
            new.restrictions["target"],
            strict=True,
        )
    )
    assert rows == {
        ("reefer", "leg", "AC"),
        ("general", "country", "GE"),
        ("reefer", "country", "GE"),
        ("general", "border", "KZAZ"),
    }
    assert new.restrictions.loc[new.restrictions["target"] == "KZAZ", "reason"].item() == "strike"
    assert old.restrictions.empty
    assert new.legs.equals(old.legs)  # closing removes nothing


def test_scale_demand_by_origin_and_class() -> None:
    old = base()
    new = apply(
        [{"kind": "scale_demand", "where": {"origin": "A", "class": "general"}, "factor": 3}]
    )
    assert new.cargo.loc["L1", "teu"] == 90.0
    assert new.cargo.loc["L2", "teu"] == 20.0  # reefer
    assert new.cargo.loc["L3", "teu"] == 10.0  # from B
    unchanged_except(new, old, "cargo", {"L1"})


def test_settings_change_keeps_the_other_modes() -> None:
    old = base()
    new = apply(
        [
            {
                "kind": "settings",
                "set": {"co2_price_per_t": 100, "co2_kg_per_teu_km": {"rail": 0.5}},
            },
        ]
    )
    assert new.settings.co2_price_per_t == 100.0
    assert new.settings.co2_kg_per_teu_km.rail == 0.5
    assert new.settings.co2_kg_per_teu_km.road == old.settings.co2_kg_per_teu_km.road
    assert new.settings.default_penalty_per_teu == old.settings.default_penalty_per_teu
    assert new.legs.equals(old.legs)


def test_add_a_candidate_leg_both_ways_then_solve() -> None:
    from allocator.pipeline import run

    old = base()
    new = apply(
        [
            {
                "kind": "add_legs",
                "legs": [
                    {
                        "id": "AD",
                        "from": "A",
                        "to": "D",
                        "mode": "rail",
                        "distance_km": 1.0,
                        "transit_hours": 24,
                        "cost_per_teu": 50,
                        "fixed_cost": 500,
                        "reverse": True,
                    },
                ],
            },
        ]
    )
    assert new.legs.loc["AD", "fixed_cost"] == 500.0
    assert new.legs.loc["AD~r", "fixed_cost"] == 500.0
    assert (new.legs.loc["AD~r", "from"], new.legs.loc["AD~r", "to"]) == ("D", "A")
    unchanged_except(new, old, "legs", {"AD"})
    res = run(new)
    assert res.plan is not None
    assert check_plan(res.plan, new).ok
    # per TEU, by hand: L1 A-D 50 (was AB+BC+CD 600), L2 A-D-C 50+200 (was AB+BC 400),
    # L3 B-A-D 100+50 (was BC+CD 500): all 60 TEU take AD, which pays its 500 once
    legs = res.plan.legs.set_index("leg")
    assert legs.loc["AD", "flow_teu"] == pytest.approx(60.0)
    assert res.plan.objective == pytest.approx(30 * 50 + 20 * 250 + 10 * 150 + 500)
    assert bool(legs.loc["AD", "opened"])


# ---------------------------------------------------------------- problems


def problems_of(changes: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(InstanceError) as info:
        apply(changes)
    return [str(p) for p in info.value.problems]


def test_unknown_id_names_the_change_the_key_and_a_suggestion() -> None:
    (text,) = problems_of(
        [
            {"kind": "scale_capacity", "of": "legs", "where": {"mode": "ferry"}, "factor": 2},
            {"kind": "scale_capacity", "of": "legs", "where": {"id": "BC-r"}, "factor": 2},
        ]
    )
    assert "[[change]] #2 (scale_capacity)" in text
    assert "key 'where.id'" in text
    assert "unknown leg id 'BC-r'" in text
    assert "did you mean 'BC~r'" in text


def test_misspelt_kind_and_keys_get_a_suggestion() -> None:
    (kind,) = problems_of([{"kind": "scale_capacities", "of": "legs", "factor": 2}])
    assert "key 'kind': unknown kind" in kind
    assert "did you mean 'scale_capacity'?" in kind
    texts = problems_of([{"kind": "scale_capacity", "of": "legs", "factr": 2}])
    assert any("key 'factr': unknown key (did you mean 'factor'?)" in t for t in texts)
    assert any("key 'factor': required key is missing" in t for t in texts)


def test_a_selector_matching_nothing_is_an_error() -> None:
    (text,) = problems_of(
        [{"kind": "scale_capacity", "of": "legs", "where": {"mode": "road"}, "factor": 2}]
    )
    assert "[[change]] #1" in text
    assert "selects no legs" in text


def test_scaling_only_unlimited_capacities_or_odd_departures_is_an_error() -> None:
    (text,) = problems_of(
        [{"kind": "scale_capacity", "of": "legs", "where": {"id": "CD"}, "factor": 2}]
    )
    assert "no capacity to scale" in text
    (text,) = problems_of(
        [
            {
                "kind": "scale_capacity",
                "of": "legs",
                "where": {"id": "BC"},
                "factor": 0.75,
                "service": "departures",
            }
        ]
    )
    assert "1.5 departures" in text


def test_an_added_leg_with_an_unknown_node_is_located_in_the_scenario() -> None:
    texts = problems_of(
        [
            {
                "kind": "add_legs",
                "legs": [{"id": "AX", "from": "A", "to": "X", "mode": "rail", "cost_per_teu": 1}],
            }
        ]
    )
    assert any("[[change]] #1 (add_legs) legs[0]" in t and "column 'to'" in t for t in texts)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('name = "s"\nbase = ".."\n[[change]\n', ["is not valid TOML"]),
        ('base = ".."\n', ["key 'name'", "required key is missing"]),
        (
            'name = "s"\nbase = ".."\n[[change]]\nkind = "scale"\n',
            ["[[change]] #1", "unknown kind"],
        ),
        (
            'name = "s"\nbase = ".."\n[[change]]\nkind = "scale_demand"\nfactr = 2\n',
            ["[[change]] #1 (scale_demand)", "key 'factr'", "unknown key"],
        ),
        (
            'name = "s"\nbase = ".."\n[[change]]\nkind = "scale_demand"\nfactor = -1\n',
            ["key 'factor'", "greater than 0"],
        ),
        (
            'name = "s"\nbase = ".."\n[[change]]\nkind = "close"\nof = "legs"\nwhere = {modes = "sea"}\n',
            ["key 'where.modes'", "did you mean 'mode'"],
        ),
        (
            'name = "s"\nbase = ".."\n[[change]]\nkind = "settings"\nset = {co2_prce_per_t = 1}\n',
            ["key 'set.co2_prce_per_t'", "did you mean 'co2_price_per_t'"],
        ),
        ('name = "a b"\nbase = ".."\n', ["key 'name'", "should match pattern"]),
    ],
)
def test_bad_scenario_files_exit_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragments: list[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    assert main(["scenario", "apply", str(bad), str(tmp_path / "out")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "bad.toml" in err
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_scenario_apply_writes_the_changed_instance(tmp_path: Path) -> None:
    out = tmp_path / "ferries.json"
    assert main(["scenario", "apply", str(SCENARIOS / "ferries-halved.toml"), str(out)]) == 0
    from allocator.instance.validate import read_instance

    inst = read_instance(out)
    assert inst.name == "eurasia-2026-W47+ferries-halved"
    assert inst.legs.loc["KZ_KUR-AZ_ALA", "max_services"] == 1


def test_solve_runs_the_others_when_one_scenario_is_bad(
    tmp_path: Path, tiny_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        f'name = "border-up"\nbase = "{tiny_folder}"\n[[change]]\nkind = "scale_capacity"\n'
        'of = "borders"\nwhere = { id = "KZAZ" }\nfactor = 2\n',
        encoding="utf-8",
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nbase = "."\n[[change]]\nkind = "close"\nof = "legs"\n'
        'where = { id = "NOPE" }\n',
        encoding="utf-8",
    )
    out = tmp_path / "runs"
    code = main(
        [
            "solve",
            str(tiny_folder),
            "--scenario",
            str(bad),
            "--scenario",
            str(good),
            "--out",
            str(out),
            "--no-report",
        ]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert "unknown leg id 'NOPE'" in " ".join(captured.err.split())
    assert "border-up: optimal" in captured.out
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["base", "border-up"]
    plan, inst = read_run(out / "border-up")
    assert inst is not None
    assert inst.borders.loc["KZAZ", "capacity_teu"] == 160.0
    assert check_plan(plan, inst).ok


# ---------------------------------------------------------------- the shipped scenarios


@pytest.fixture(scope="module")
def eurasia_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenarios")
    args = ["solve", str(EURASIA), "--out", str(out), "--no-report", "--no-prices", "--quiet"]
    for name in ("ferries-halved", "rasht-astara", "co2-100"):
        args += ["--scenario", str(SCENARIOS / f"{name}.toml")]
    assert main(args) == 0
    return out


def test_the_shipped_scenarios_load() -> None:
    names = {load_scenario(p).name for p in SCENARIOS.glob("*.toml")}
    assert names == {"ferries-halved", "rasht-astara", "co2-100"}
    for p in SCENARIOS.glob("*.toml"):
        assert load_scenario(p).base_path == EURASIA.resolve()
        assert load_scenario(p).description.strip()


def caspian_ferries(inst: Instance) -> pd.DataFrame:
    """Ferry legs with an end in Kazakhstan or Turkmenistan (the Caspian crossings)."""
    legs, country = inst.legs, inst.nodes["country"]
    caspian = (legs["mode"] == "ferry") & (
        legs["from"].map(country).isin(["KZ", "TM"]) | legs["to"].map(country).isin(["KZ", "TM"])
    )
    return legs[caspian]


def test_ferries_halved_moves_less_over_the_caspian_ferries(eurasia_runs: Path, eurasia) -> None:
    base_plan, _ = read_run(eurasia_runs / "base")
    plan, inst = read_run(eurasia_runs / "ferries-halved")
    assert inst is not None
    assert check_plan(plan, inst).ok
    ferries = caspian_ferries(eurasia)
    assert set(ferries.index) == {
        "KZ_KUR-AZ_ALA",
        "KZ_KUR-AZ_ALA~r",
        "TM_KRW-AZ_ALA",
        "TM_KRW-AZ_ALA~r",
    }
    halved = 0.5 * ferries["service_capacity_teu"] * ferries["max_services"].astype(float)
    flow = plan.legs.set_index("leg")["flow_teu"]
    before = base_plan.legs.set_index("leg")["flow_teu"]
    for a in ferries.index:
        assert flow[a] <= halved[a] + 1e-6, a
    assert flow[ferries.index].sum() < before[ferries.index].sum() - 1.0
    # nothing else changed in the instance
    assert (
        inst.legs.drop(index=ferries.index)
        .drop(columns="max_services")
        .equals(eurasia.legs.drop(index=ferries.index).drop(columns="max_services"))
    )


def test_rasht_astara_offers_the_rail_leg(eurasia_runs: Path) -> None:
    base_plan, _ = read_run(eurasia_runs / "base")
    plan, inst = read_run(eurasia_runs / "rasht-astara")
    assert inst is not None
    assert check_plan(plan, inst).ok
    new = ["IR_ASR-IR_RAS-rail", "IR_ASR-IR_RAS-rail~r"]
    assert list(inst.legs.loc[new, "mode"]) == ["rail", "rail"]
    assert list(inst.legs.loc[new, "distance_km"]) == [162.0, 162.0]
    assert (inst.legs.loc[new, "fixed_cost"] > 0).all()
    legs = plan.legs.set_index("leg")
    assert legs.loc[new, "opened"].notna().all()  # candidates the model decided on
    # one more option cannot make the optimum dearer
    assert plan.objective <= base_plan.objective * (1 + 1e-6)


def test_co2_price_does_not_increase_co2(eurasia_runs: Path) -> None:
    base_plan, _ = read_run(eurasia_runs / "base")
    plan, inst = read_run(eurasia_runs / "co2-100")
    assert inst is not None
    assert inst.settings.co2_price_per_t == 100.0
    assert check_plan(plan, inst).ok
    co2, co2_base = plan.info()["co2_t"], base_plan.info()["co2_t"]
    assert co2 <= co2_base + 1e-6
    priced = plan.costs.loc[plan.costs["component"] == "co2", "cost"].sum()
    assert priced == pytest.approx(100.0 * co2, rel=1e-9)
    # the base plan, priced at 100 per tonne, is feasible: an upper bound
    assert plan.objective <= base_plan.objective + 100.0 * co2_base + 1e-3
