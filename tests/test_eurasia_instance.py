"""The shipped Eurasia example (instances/eurasia) and its eight weekly instances."""

from __future__ import annotations

import importlib.util
import math
from collections import deque
from pathlib import Path

import pandas as pd
import pytest

from allocator import read_instance

EURASIA = Path(__file__).resolve().parents[1] / "instances" / "eurasia"
WEEKS = [f"2026-W{w}" for w in range(45, 53)]
GAUGE_BORDERS = [
    "DOS_ALS",  # Dostyk / Alashankou
    "HOR_ALT",  # Khorgos / Altynkol
    "ZBK_MLX",  # Zabaikalsk / Manzhouli
    "BRE_MAL",  # Brest / Malaszewicze
    "SARAKHS",  # Sarakhs (TM) / Sarakhs (IR)
    "AKY_INB",  # Akyayla / Inche-Burun
    "ASTARA",  # Astara (AZ) / Astara (IR)
    "AKHALKALAKI",  # Akhalkalaki (BTK, GE-TR)
]
CASPIAN_COUNTRIES = {"KZ", "AZ", "TM", "RU", "IR"}
CASPIAN_PORTS = {
    "KZ_AAU",
    "KZ_KUR",
    "TM_KRW",
    "AZ_ALA",
    "RU_ASF",
    "RU_OYA",
    "RU_MCX",
    "IR_BAZ",
    "IR_AMD",
}


@pytest.fixture(scope="module")
def inst():
    return read_instance(EURASIA)


@pytest.fixture(scope="module")
def weeks():
    return {w: read_instance(EURASIA / "weeks" / f"{w}.toml") for w in WEEKS}


def caspian_service_legs(legs: pd.DataFrame) -> pd.DataFrame:
    service = legs["service_capacity_teu"].notna()
    caspian = legs["from"].isin(CASPIAN_PORTS) & legs["to"].isin(CASPIAN_PORTS)
    return legs[service & caspian]


def caspian_capacity(legs: pd.DataFrame) -> float:
    cas = caspian_service_legs(legs)
    return float((cas["service_capacity_teu"] * cas["max_services"].astype(float)).sum())


def allowed_legs(inst, cls: str) -> pd.DataFrame:
    """Legs class ``cls`` may use: restrictions by country (either endpoint), border, leg, mode, node."""
    r = inst.restrictions[inst.restrictions["class"] == cls]
    banned = {
        s: set(r.loc[r["scope"] == s, "target"])
        for s in ("country", "border", "leg", "mode", "node")
    }
    legs, country = inst.legs, inst.nodes["country"]
    bad = (
        legs.index.isin(banned["leg"])
        | legs["mode"].isin(banned["mode"])
        | legs["border"].isin(banned["border"])
        | legs["from"].isin(banned["node"])
        | legs["to"].isin(banned["node"])
        | legs["from"].map(country).isin(banned["country"])
        | legs["to"].map(country).isin(banned["country"])
    )
    return legs[~bad]


def reachable(legs: pd.DataFrame, origin: str) -> set[str]:
    out: dict[str, list[str]] = {}
    for a, b in zip(legs["from"], legs["to"], strict=True):
        out.setdefault(a, []).append(b)
    seen, todo = {origin}, deque([origin])
    while todo:
        for m in out.get(todo.popleft(), []):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_validates_without_warnings(inst):
    assert inst.warnings == ()
    assert inst.settings.name == "eurasia-2026-W47"
    assert inst.settings.period == "2026-W47"


def test_size(inst):
    assert 45 <= len(inst.nodes) <= 60
    assert len(inst.cargo) >= 150
    assert inst.cargo["teu"].between(2, 200).all()
    assert set(inst.classes.index) >= {"general", "reefer", "dangerous"}
    assert inst.cargo["due_days"].notna().any()
    assert inst.cargo["penalty_per_teu"].notna().any()


def test_break_of_gauge_borders(inst):
    for border in GAUGE_BORDERS:
        assert border in inst.borders.index, border
        assert bool(inst.borders.loc[border, "gauge_change"]), border
        assert (inst.legs["border"] == border).any(), border


def test_border_legs_join_the_border_countries(inst):
    country = inst.nodes["country"]
    for leg_id, leg in inst.legs[inst.legs["border"].notna()].iterrows():
        border = inst.borders.loc[leg["border"]]
        sides = {border["from_country"], border["to_country"]}
        assert {country[leg["from"]], country[leg["to"]]} == sides, leg_id


@pytest.mark.parametrize("corridor", ["northern", "middle", "instc", "sea"])
def test_corridor_has_legs(inst, corridor):
    assert (inst.legs["corridor"] == corridor).sum() >= 2


def test_caspian_service_legs(inst):
    cas = caspian_service_legs(inst.legs)
    assert len(cas) >= 4
    assert cas["mode"].isin(["ferry", "sea"]).all()
    country = inst.nodes["country"]
    assert cas["from"].map(country).isin(CASPIAN_COUNTRIES).all()
    assert cas["to"].map(country).isin(CASPIAN_COUNTRIES).all()
    assert (inst.nodes.loc[list(CASPIAN_PORTS), "kind"] == "port").all()
    assert cas["max_services"].notna().all()
    assert (cas["service_cost"] > 0).all()
    # both the Middle Corridor (KZ/TM - AZ) and the INSTC (RU - IR) cross the Caspian by departures
    pairs = {
        frozenset((country[f], country[t])) for f, t in zip(cas["from"], cas["to"], strict=True)
    }
    assert frozenset(("KZ", "AZ")) in pairs
    assert frozenset(("RU", "IR")) in pairs


def test_every_lot_has_an_allowed_path(inst):
    cache: dict[tuple[str, str], set[str]] = {}
    missing = []
    for lot_id, lot in inst.cargo.iterrows():
        key = (lot["class"], lot["origin"])
        if key not in cache:
            cache[key] = reachable(allowed_legs(inst, lot["class"]), lot["origin"])
        if lot["destination"] not in cache[key]:
            missing.append(lot_id)
    assert missing == []


def test_restrictions_bite(inst):
    """The restricted class cannot use the EU or the Lithuania transit; dangerous goods avoid ferries."""
    sanctioned = allowed_legs(inst, "sanctioned")
    eu = {"PL", "DE", "NL", "RO", "LT"}
    country = inst.nodes["country"]
    assert not sanctioned["to"].map(country).isin(eu).any()
    assert not (sanctioned["border"] == "KENA").any()
    assert not (allowed_legs(inst, "dangerous")["mode"] == "ferry").any()
    lots = inst.cargo[inst.cargo["class"] == "sanctioned"]
    assert len(lots) > 0
    assert not lots["origin"].map(country).isin(eu).any()
    assert not lots["destination"].map(country).isin(eu).any()


@pytest.mark.parametrize("week", WEEKS)
def test_week_validates(weeks, week):
    w = weeks[week]
    assert w.warnings == ()
    assert w.settings.period == week
    assert w.settings.name == f"eurasia-{week}"
    assert len(w.cargo) >= 150
    # the network is shared: same nodes and classes as the base instance
    assert list(w.nodes.index) == list(read_instance(EURASIA).nodes.index)


def test_base_week_equals_base_instance(inst, weeks):
    pd.testing.assert_frame_equal(inst.cargo, weeks["2026-W47"].cargo)


def test_weeks_vary_with_stable_lot_ids(inst, weeks):
    base = set(inst.cargo.index)
    totals = []
    for week, w in weeks.items():
        ids = set(w.cargo.index)
        recurring = ids - {i for i in ids if i.startswith("SPOT-")}
        assert recurring <= base, week
        assert len(recurring) >= 0.85 * len(base), week
        totals.append(float(w.cargo["teu"].sum()))
    base_teu = float(inst.cargo["teu"].sum())
    assert all(0.8 * base_teu <= t <= 1.2 * base_teu for t in totals)
    assert len({round(t) for t in totals}) == len(totals)  # demand changes every week


def test_weather_week_halves_the_caspian(inst, weeks):
    base = caspian_capacity(inst.legs)
    storm = caspian_capacity(weeks["2026-W49"].legs)
    assert base > 0
    assert storm / base == pytest.approx(0.5, abs=0.1)
    # only the Caspian service legs change
    other = inst.legs.index.difference(caspian_service_legs(inst.legs).index)
    pd.testing.assert_frame_equal(inst.legs.loc[other], weeks["2026-W49"].legs.loc[other])
    for week in set(WEEKS) - {"2026-W49"}:
        assert caspian_capacity(weeks[week].legs) == base


def test_brest_week_is_congested(inst, weeks):
    base, jam = inst.borders.loc["BRE_MAL"], weeks["2026-W51"].borders.loc["BRE_MAL"]
    assert jam["capacity_teu"] == pytest.approx(base["capacity_teu"] / 2)
    assert jam["dwell_hours"] == pytest.approx(base["dwell_hours"] * 2)
    others = inst.borders.index.drop("BRE_MAL")
    pd.testing.assert_frame_equal(inst.borders.loc[others], weeks["2026-W51"].borders.loc[others])


def test_cargo_files_are_reproducible():
    """make_cargo.py regenerates exactly the committed weekly cargo files."""
    spec = importlib.util.spec_from_file_location("make_cargo", EURASIA / "make_cargo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lots = module.base_lots()
    for week in range(45, 53):
        rows = module.week_rows(week, lots)
        committed = pd.read_csv(
            EURASIA / "weeks" / f"cargo-2026-W{week}.csv", keep_default_na=False
        )
        assert list(committed["id"]) == [r[0] for r in rows]
        assert [float(t) for t in committed["teu"]] == [r[3] for r in rows]
        due = [float(d) if d != "" else None for d in committed["due_days"]]
        assert due == [r[5] for r in rows]


def test_end_to_end_times_are_plausible(inst):
    """Sum of leg transit, border dwell and node dwell along reference routes, in days."""
    s, nodes, borders = inst.settings, inst.nodes, inst.borders

    def days(seq: list[str]) -> float:
        hours = 0.0
        for a, b in zip(seq, seq[1:], strict=False):
            legs = inst.legs[(inst.legs["from"] == a) & (inst.legs["to"] == b)]
            leg = legs.iloc[0]
            h = leg["transit_hours"]
            if math.isnan(h):
                d = leg["distance_km"]
                if math.isnan(d):
                    p1, p2 = (math.radians(nodes.loc[n, "lat"]) for n in (a, b))
                    dl = math.radians(nodes.loc[b, "lon"] - nodes.loc[a, "lon"])
                    x = (
                        math.sin((p2 - p1) / 2) ** 2
                        + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
                    )
                    d = 2 * 6371.0 * math.asin(math.sqrt(x)) * s.circuity.get(leg["mode"])
                h = d / s.speed_kmh.get(leg["mode"])
            if isinstance(leg["border"], str):
                h += borders.loc[leg["border"], "dwell_hours"]
            hours += h + nodes.loc[b, "dwell_hours"]
        return hours / 24

    northern = ["CN_XIA", "CN_URM", "CN_ALS", "KZ_DOS", "RU_MOW", "BY_BQT", "PL_MAA", "DE_DUI"]
    middle = ["CN_XIA", "CN_URM", "KZ_HOR", "KZ_ALA", "KZ_AAU", "AZ_ALA", "AZ_BAK", "GE_PTI"]
    instc = ["IN_NSA", "IR_SRP", "IR_THR", "IR_QAZ", "IR_RAS", "IR_BAZ", "RU_ASF", "RU_MOW"]
    assert 13 <= days(northern) <= 21
    assert 16 <= days(middle) <= 24
    assert 28 <= days(["CN_SGH", "NL_RTM"]) <= 36
    assert 20 <= days(instc) <= 26
    assert (
        days(["CN_DAL", "RU_VRS"])
        < 20
        < days(["CN_DAL", "CN_QIN", "NL_RTM", "RU_LED", "RU_MOW", "RU_VRS"])
    )
