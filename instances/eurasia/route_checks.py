"""Hand calculation of end-to-end routes of the Eurasia example, for the calibration table in SOURCES.md.

This is an independent check of the data, not the engine: it applies the cost and time rules as the
schema describes them (distance_km or great circle x circuity; transit_hours or distance / speed;
cost_per_teu or the tariff band; service_cost spread over a full departure; border fee, dwell and,
on a break of gauge, transshipment; handling cost and dwell at every node a TEU arrives at).

    python instances/eurasia/route_checks.py            # the calibration table
    python instances/eurasia/route_checks.py --cheapest # cheapest path per lane and class
"""

# ruff: noqa: T201  (a command-line report)
from __future__ import annotations

import heapq
import math
import sys
from pathlib import Path

from allocator import read_instance

HERE = Path(__file__).resolve().parent

# name, node sequence (legs chosen as the cheapest leg between consecutive nodes), reported figure
ROUTES = [
    (
        "Xi'an-Duisburg rail (Dostyk, Moscow, Brest)",
        "CN_XIA CN_URM CN_ALS KZ_DOS RU_MOW BY_BQT PL_MAA DE_DUI",
        "13-20 d (Xi'an-Duisburg express 13 d; CN-DE 18-21 d); ERA ~$3,240/FEU = ~$1,620/TEU",
    ),
    (
        "Xi'an-Duisburg Middle Corridor (Khorgos, Aktau-Alat, Poti-Constanta)",
        "CN_XIA CN_URM KZ_HOR KZ_ALA KZ_AAU AZ_ALA AZ_BAK GE_PTI RO_CND DE_DUI",
        "20-25 d (ADY 2024) .. 50-55 d (DHL 2024); cost 1.3-1.5x Northern",
    ),
    (
        "Xi'an-Poti Middle Corridor (China-Black Sea)",
        "CN_XIA CN_URM KZ_HOR KZ_ALA KZ_AAU AZ_ALA AZ_BAK GE_PTI",
        "19-23 d China-Black Sea (2023)",
    ),
    (
        "Qingdao-Poti Middle Corridor (SCODA origin)",
        "CN_QIN CN_XIA CN_URM KZ_HOR KZ_ALA KZ_AAU AZ_ALA AZ_BAK GE_PTI",
        "19-23 d China-Black Sea (2023)",
    ),
    (
        "Xi'an-Baku (Alat) Middle Corridor",
        "CN_XIA CN_URM KZ_HOR KZ_ALA KZ_AAU AZ_ALA AZ_BAK",
        "8-11 d (Xi'an-Baku train 11 d, Jan 2024)",
    ),
    (
        "Almaty-Baku Middle Corridor (Aktau-Alat feeder)",
        "KZ_ALA KZ_AAU AZ_ALA AZ_BAK",
        "Kazakh section cut to 6 d, target 5 (2023); Caspian crossing 18-22 h plus waits",
    ),
    (
        "Xi'an-Baku via Russia (Dostyk, Moscow, Yalama)",
        "CN_XIA CN_URM CN_ALS KZ_DOS RU_MOW AZ_YAL AZ_BAK",
        "not reported; the fallback when the Caspian is full",
    ),
    (
        "Shanghai-Rotterdam sea via Suez",
        "CN_SGH NL_RTM",
        "27-35 d; Drewry WCI 2024 ~$4,200-5,300/FEU = ~$2,100-2,650/TEU",
    ),
    (
        "Dalian-Vorsino block train (through service)",
        "CN_DAL RU_VRS",
        "~10 d (first train 2016; 9 d plan), 7,721 km",
    ),
    (
        "Dalian-Vorsino rail via Harbin, Zabaikalsk, Moscow",
        "CN_DAL CN_HRN CN_MLX RU_ZBK RU_MOW RU_VRS",
        "less than half of sea (>50 d)",
    ),
    (
        "Dalian-Vorsino sea via Qingdao, Rotterdam, St Petersburg",
        "CN_DAL CN_QIN NL_RTM RU_LED RU_MOW RU_VRS",
        ">50 d",
    ),
    (
        "Nhava Sheva-Moscow INSTC Caspian (Bandar Abbas, Anzali-Astrakhan)",
        "IN_NSA IR_SRP IR_THR IR_QAZ IR_RAS IR_BAZ RU_ASF RU_MOW",
        "23-25 d (24 d pilot 2022); ~$3,400/TEU expected (2020)",
    ),
    (
        "Nhava Sheva-Moscow INSTC western (Rasht-road-Astara-Baku-Yalama)",
        "IN_NSA IR_SRP IR_THR IR_QAZ IR_RAS IR_ASR AZ_AST AZ_BAK AZ_YAL RU_MOW",
        "23 d (2016 trial to Vorsino)",
    ),
    (
        "Nhava Sheva-Moscow INSTC eastern (Inche-Burun, Bolashak, Uzen)",
        "IN_NSA IR_SRP IR_THR IR_GBT IR_INB TM_AKY TM_SER KZ_BOL KZ_UZE RU_MOW",
        "35-37 d (ittc.com.tm)",
    ),
    (
        "Nhava Sheva-Moscow deep sea via Suez, Rotterdam, St Petersburg",
        "IN_NSA NL_RTM RU_LED RU_MOW",
        "~40 d; ~$4,900/TEU (2020)",
    ),
]


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def leg_table(inst):
    """Per leg: distance, hours, freight per TEU (incl. service cost at full load), border cost and dwell."""
    s, nodes, borders = inst.settings, inst.nodes, inst.borders
    out = {}
    for lid, leg in inst.legs.iterrows():
        a, b = nodes.loc[leg["from"]], nodes.loc[leg["to"]]
        d = leg["distance_km"]
        if math.isnan(d):
            d = great_circle_km(a.lat, a.lon, b.lat, b.lon) * s.circuity.get(leg["mode"])
        h = leg["transit_hours"]
        if math.isnan(h):
            h = d / s.speed_kmh.get(leg["mode"])
        c = leg["cost_per_teu"]
        if math.isnan(c):
            t = inst.tariffs[inst.tariffs["mode"] == leg["mode"]]
            band = t[(t["from_km"] <= d) & (t["to_km"].isna() | (d < t["to_km"]))].iloc[0]
            c = d * band["cost_per_teu_km"] + band["fixed_per_teu"]
        if not math.isnan(leg["service_capacity_teu"]):
            c += leg["service_cost"] / leg["service_capacity_teu"]
        bc = bh = 0.0
        if isinstance(leg["border"], str):
            br = borders.loc[leg["border"]]
            bc = br["fee_per_teu"] + (br["transshipment_cost_per_teu"] if br["gauge_change"] else 0)
            bh = br["dwell_hours"]
        co2 = leg["co2_kg_per_teu_km"]
        if math.isnan(co2):
            co2 = s.co2_kg_per_teu_km.get(leg["mode"])
        out[lid] = {
            "frm": leg["from"],
            "to": leg["to"],
            "mode": leg["mode"],
            "km": d,
            "h": h,
            "freight": c,
            "border": bc,
            "border_h": bh,
            "co2": co2 * d,
            "corridor": leg["corridor"],
        }
    return out


def route(inst, legs, seq):
    nodes = inst.nodes
    tot = {"km": 0.0, "h": 0.0, "freight": 0.0, "border": 0.0, "handling": 0.0, "co2": 0.0}
    used = []
    for a, b in zip(seq, seq[1:], strict=False):
        cands = [
            (v["freight"] + v["border"], k)
            for k, v in legs.items()
            if v["frm"] == a and v["to"] == b
        ]
        if not cands:
            raise SystemExit(f"no leg {a} -> {b}")
        _, k = min(cands)
        v = legs[k]
        used.append(k)
        tot["km"] += v["km"]
        tot["h"] += v["h"] + v["border_h"] + nodes.loc[b, "dwell_hours"]
        tot["freight"] += v["freight"]
        tot["border"] += v["border"]
        tot["handling"] += nodes.loc[b, "handling_cost_per_teu"]
        tot["co2"] += v["co2"]
    tot["cost"] = tot["freight"] + tot["border"] + tot["handling"]
    return tot, used


def allowed(inst, cls):
    """Leg ids the class may use."""
    r = inst.restrictions[inst.restrictions["class"] == cls]
    bad = {
        scope: set(r.loc[r["scope"] == scope, "target"])
        for scope in ("country", "border", "leg", "mode", "node")
    }
    country = inst.nodes["country"]
    ok = set()
    for lid, leg in inst.legs.iterrows():
        if (
            lid in bad["leg"]
            or leg["mode"] in bad["mode"]
            or leg["border"] in bad["border"]
            or leg["from"] in bad["node"]
            or leg["to"] in bad["node"]
            or country[leg["from"]] in bad["country"]
            or country[leg["to"]] in bad["country"]
        ):
            continue
        ok.add(lid)
    return ok


def cheapest(inst, legs, origin, dest, cls):
    """Dijkstra on cost + time value (no capacities, no due days)."""
    value = inst.classes.loc[cls, "value_per_teu_day"] / 24.0
    nodes = inst.nodes
    ok = allowed(inst, cls)
    if (
        origin
        in inst.restrictions.loc[
            (inst.restrictions["class"] == cls) & (inst.restrictions["scope"] == "node"), "target"
        ].values
    ):
        return None
    out = {}
    for k in ok:
        out.setdefault(legs[k]["frm"], []).append(k)
    best = {origin: (0.0, 0.0, 0.0, [])}
    heap = [(0.0, origin)]
    done = set()
    while heap:
        g, n = heapq.heappop(heap)
        if n in done:
            continue
        done.add(n)
        if n == dest:
            break
        _, cost, hours, path = best[n]
        for k in out.get(n, []):
            v = legs[k]
            m = v["to"]
            h = v["h"] + v["border_h"] + nodes.loc[m, "dwell_hours"]
            c = v["freight"] + v["border"] + nodes.loc[m, "handling_cost_per_teu"]
            ng = g + c + value * h
            if m not in best or ng < best[m][0] - 1e-9:
                best[m] = (ng, cost + c, hours + h, path + [k])
                heapq.heappush(heap, (ng, m))
    return best.get(dest)


def main() -> None:
    inst = read_instance(HERE)
    legs = leg_table(inst)
    if "--cheapest" in sys.argv:
        lanes = inst.cargo.groupby(["origin", "destination", "class"]).agg(
            teu=("teu", "sum"), due=("due_days", "min")
        )
        for (o, d, c), row in lanes.iterrows():
            r = cheapest(inst, legs, o, d, c)
            if r is None:
                print(f"{o}->{d} {c}: NO PATH")
                continue
            g, cost, hours, path = r
            flag = "  LATE" if not math.isnan(row.due) and hours / 24 > row.due else ""
            print(
                f"{o:7}->{d:7} {c:10} {row.teu:6.0f} TEU  ${cost:6.0f}  {hours / 24:5.1f} d (due {row.due}){flag}  {' '.join(path)}"
            )
        return
    print(
        "| route | km | days | freight $/TEU | borders $/TEU | handling $/TEU | total $/TEU | CO2 kg/TEU | reported |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals = {}
    for name, seq, reported in ROUTES:
        t, _ = route(inst, legs, seq.split())
        totals[name] = t["cost"]
        print(
            f"| {name} | {t['km']:,.0f} | {t['h'] / 24:.1f} | {t['freight']:,.0f} | {t['border']:,.0f} | "
            f"{t['handling']:,.0f} | {t['cost']:,.0f} | {t['co2']:,.0f} | {reported} |"
        )

    northern, middle = totals[ROUTES[0][0]], totals[ROUTES[1][0]]
    instc = [totals[r[0]] for r in ROUTES if r[0].startswith("Nhava Sheva-Moscow INSTC")]
    suez = totals[ROUTES[-1][0]]
    print()
    print(f"Middle / Northern (Xi'an-Duisburg): {middle / northern:.2f} (reported 1.3-1.5)")
    print(
        f"INSTC / Suez (Nhava Sheva-Moscow): {min(instc) / suez:.2f}-{max(instc) / suez:.2f} "
        f"(reported 3,400 / 4,900 = 0.69)"
    )


if __name__ == "__main__":
    main()
