"""The HTML report, rendered in real headless Chromium (Debian's ``chromium``, driven by playwright).

The tests fail, never skip, when Chromium is missing: ``make test`` installs it. Screenshots go to the
test's tmp_path and to ``out/test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import EURASIA, REPO, MakeFolder
from helpers import FREE_TIME, border_queue_week, build, leg, lot, node

from allocator.cli import main
from allocator.instance.io import write_instance
from allocator.instance.model import Instance
from allocator.pipeline import read_run
from allocator.report.html import main_corridor, render_html, run_labels, write_html_report
from allocator.report.map import WAYPOINTS, load_outline, sea_route
from allocator.results import Plan

ARTIFACTS = REPO / "out" / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Path of the system Chromium; the test fails (not skips) without it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    pytest.fail("Chromium is missing: `apt-get install chromium` (make test installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Loaded:
    """A page opened from a file, with everything that went wrong while loading it."""

    page: object
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self, html: Path) -> None:
        assert self.console == []
        assert self.errors == []
        assert self.failed == []
        assert self.requests == [html.resolve().as_uri()]  # the file itself, nothing else


def open_page(browser: object, html: Path) -> Loaded:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    loaded = Loaded(page)
    page.on("console", lambda m: loaded.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: loaded.errors.append(str(e)))
    page.on("requestfailed", lambda r: loaded.failed.append(r.url))
    page.on("request", lambda r: loaded.requests.append(r.url))
    page.goto(html.resolve().as_uri(), wait_until="load")
    return loaded


def screenshot(page: object, tmp_path: Path, name: str) -> Path:
    """Full-page PNG in tmp_path and out/test-artifacts; asserts it shows something."""
    from PIL import Image

    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / f"{name}.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as img:
        width, height = img.size
        assert width >= 1000
        assert height >= 1500
        colours = img.convert("RGB").resize((400, 400)).getcolors(maxcolors=1_000_000)
        assert colours is not None
        assert len(colours) > 200
    return shot


def count(page: object, selector: str) -> int:
    return int(page.locator(selector).count())  # type: ignore[attr-defined]


def text(page: object, selector: str) -> str:
    return str(page.locator(selector).first.inner_text()).strip()  # type: ignore[attr-defined]


def title(page: object, selector: str) -> str:
    """Text of an SVG <title> (not an HTMLElement, so no inner_text)."""
    return str(page.locator(selector).first.text_content() or "")  # type: ignore[attr-defined]


def unfold(page: object) -> list[bool]:
    """Open every run's folded section; returns whether each was open before."""
    return list(
        page.evaluate(  # type: ignore[attr-defined]
            "() => [...document.querySelectorAll('details.run')].map(d => {"
            " const was = d.open; d.open = true; return was; })"
        )
    )


def solve_run(folder: Path, out: Path) -> Path:
    assert main(["solve", str(folder), "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def eurasia_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return solve_run(EURASIA, tmp_path_factory.mktemp("eurasia") / "run")


# ---------------------------------------------------------------- the tiny instance, by hand


def test_tiny_report_in_chromium(
    browser: object, make_instance_folder: MakeFolder, tmp_path: Path
) -> None:
    # tiny: 40 TEU L1 Almaty->Tbilisi and 30 TEU L2 Almaty->Baku both need the Aktau->Baku ferry
    # (50 TEU), so 20 TEU stay unserved at 10,000/TEU (default penalty) = 200,000; freight
    # 50*500 (AAU-MNG) + 50*300 (ferry) + 20*200 (BAK-TBS) = 44,000; border fee 50*10 = 500.
    run = solve_run(make_instance_folder(), tmp_path / "run")
    assert (run / "report.html").is_file()
    assert (run / "report.md").is_file()
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    html = run / "report.html"
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    page = loaded.page
    plan, _ = read_run(run)

    # map: the three forward legs carry cargo, the two reverse legs do not
    assert count(page, "#r0-map path.leg.used") == 3
    assert count(page, "#r0-map path.leg.unused") == 2
    used = {
        page.locator("#r0-map path.leg.used").nth(i).get_attribute("data-leg") for i in range(3)
    }
    assert used == set(plan.flows["leg"]) == {"AAU-MNG", "MNG-BAK", "BAK-TBS"}
    ferry = title(page, '#r0-map path.leg.used[data-leg="MNG-BAK"] title')
    assert "50 TEU" in ferry
    assert "utilisation 100%" in ferry
    # widths proportional to TEU: 50 TEU gets the full width, 20 TEU two fifths
    w50 = float(page.locator('#r0-map [data-leg="AAU-MNG"]').get_attribute("stroke-width"))
    w20 = float(page.locator('#r0-map [data-leg="BAK-TBS"]').get_attribute("stroke-width"))
    assert w20 / w50 == pytest.approx(20 / 50, abs=0.01)
    assert count(page, "#r0-map g.border") == 1
    assert "50 TEU of 80 TEU" in title(page, '#r0-map g.border[data-border="KZAZ"] title')
    # the outline is drawn: every country of the packaged file, placed inside the map
    assert count(page, "#outline > path") == len(load_outline()["countries"])
    box = page.locator("#r0-map use.land").bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 100

    # headline and tables
    objective = float(plan.summary["objective"].iloc[0])
    assert text(page, '.card[data-key="total cost"] .v') == f"{objective:,.0f}"
    assert text(page, '.card[data-key="TEU unserved"] .v') == "20"
    assert count(page, "table.unserved tbody tr") == len(plan.unserved) >= 1
    assert text(page, "table.unserved tfoot td:nth-child(4)") == "20.0"
    assert count(page, "table.costs tbody tr") == 4  # freight, border, time value, penalty
    costs = page.locator("table.costs").inner_text()
    assert "44,000" in costs
    assert "500" in costs
    assert "200,000" in costs
    assert text(page, "table.costs tfoot td:nth-last-child(2)") == f"{objective:,.0f}"
    if plan.bottlenecks.empty:  # prices not computed: say so, list the binding ferry
        assert "Prices were not computed" in page.locator("section.bottlenecks").inner_text()
        assert count(page, "table.binding tbody tr") == 1
        assert "MNG-BAK" in page.locator("table.binding").inner_text()
    else:
        assert count(page, "table.bottlenecks tbody tr") == len(plan.bottlenecks)
    assert count(page, "svg.chart rect.bar") == 2  # one corridor, TEU and cost
    assert count(page, "section.timeline") == 0  # not a timed plan
    screenshot(page, tmp_path, "report-tiny")
    page.close()


def test_timed_report_in_chromium(browser: object, tmp_path: Path) -> None:
    # border_queue_week (helpers): the feeder AB runs once (30 TEU, day 0), the border leg BC
    # takes 10 TEU a day on days 0, 1 and 2, 20 TEU queue at the end of day 0 and 10 at the end
    # of day 1; L1 alone arrives within 24 h of its due time
    instance = tmp_path / "week.json"
    write_instance(border_queue_week(), instance)
    run = tmp_path / "run"
    assert main(["solve", str(instance), "--model", "time", "--out", str(run), "-q"]) == 0
    html = run / "report.html"
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    page = loaded.page
    assert count(page, "section.timeline") == 1
    assert count(page, "section.timeline svg.chart.timeline") == 3  # departures, queues, Gantt
    # stacked bars: two corridors (local, middle) by days 0..2
    assert count(page, '[id^="r0-departures-bar-"]') == 6
    unfold_departures = "() => document.querySelector('section.timeline details').open = true"
    page.evaluate(unfold_departures)  # type: ignore[attr-defined]
    rows = page.locator("table.departures-by-day tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    assert [r.split("\t") for r in rows] == [
        ["0", "local", "1", "30.0"],
        ["0", "middle", "0", "10.0"],
        ["1", "middle", "0", "10.0"],
        ["2", "middle", "0", "10.0"],
    ]
    rows = page.locator("table.border-queues tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    assert [r.split("\t") for r in rows] == [
        ["KZAZ", "0", "20.0", "10.0", "10"],
        ["KZAZ", "1", "10.0", "10.0", "10"],
        ["KZAZ", "2", "0.0", "10.0", "10"],
    ]
    assert count(page, '[id^="r0-queues-queue-"]') == 1  # one border with a queue
    # the Gantt chart: one row, L1's, with its legs drawn
    assert count(page, '[id^="r0-gantt-row-"]') == 1
    box = page.locator('[id="r0-gantt-row-0"]').bounding_box()  # type: ignore[attr-defined]
    assert box is not None
    assert box["width"] > 50
    labels = page.locator('svg[aria-label^="Lots late"] text').all_text_contents()  # type: ignore[attr-defined]
    assert "L1" in labels
    assert not {"L2", "L3"} & set(labels)
    assert count(page, "table.near-due tbody tr") == 1
    assert text(page, "table.near-due tbody td") == "L1"
    markup = str(page.locator("section.timeline").inner_html())  # type: ignore[attr-defined]
    assert "http" not in markup
    assert "url(" not in markup
    screenshot(page, tmp_path, "report-timed")
    page.close()


def test_bottleneck_prices_table(browser: object, tmp_path: Path) -> None:
    # a hand-made bottlenecks table is shown row by row, prices with two decimals
    inst = build(
        nodes=[node("A"), node("B")],
        legs=[leg("AB", "A", "B", 100, capacity_teu=10)],
        classes=FREE_TIME,
        cargo=[lot("L1", "A", "B", 25)],
    )
    from allocator.pipeline import RunOptions, run

    res = run(inst, RunOptions())
    assert res.plan is not None
    prices = pd.DataFrame(
        {
            "kind": ["leg", "border"],
            "id": ["AB", "XY"],
            "corridor": ["middle", None],
            "load_teu": [10.0, 4.0],
            "capacity_teu": [10.0, 4.0],
            "utilisation": [1.0, 1.0],
            "price_per_teu": [9900.0, 1234.5],
        }
    )
    plan = dataclasses.replace(res.plan, bottlenecks=prices)
    html = write_html_report(tmp_path / "prices.html", {"one": plan}, {"one": inst})
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    page = loaded.page
    assert count(page, "table.bottlenecks tbody tr") == 2
    assert text(page, "table.bottlenecks tbody tr:nth-child(1) td:last-child") == "9,900.00"
    assert text(page, "table.bottlenecks tbody tr:nth-child(2) td:last-child") == "1,234.50"
    assert "not defined on the MILP" in page.locator("section.bottlenecks").inner_text()
    # 25 TEU over a 10 TEU leg: 15 unserved; the single used leg is drawn
    assert count(page, "#r0-map path.leg.used") == 1
    assert text(page, '.card[data-key="TEU unserved"] .v') == "15"
    page.close()


# ---------------------------------------------------------------- the shipped Eurasia example


def test_eurasia_report_in_chromium(browser: object, eurasia_run: Path, tmp_path: Path) -> None:
    html = eurasia_run / "report.html"  # written by solve --report
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    page = loaded.page
    plan, inst = read_run(eurasia_run)
    assert inst is not None
    used = set(plan.flows["leg"])  # legs carrying cargo, from the lot x leg table
    assert count(page, "#r0-map path.leg.used") == len(used)
    assert count(page, "#r0-map path.leg.unused") == len(inst.legs) - len(used)
    drawn = page.locator("#r0-map path.leg.used")
    assert {drawn.nth(i).get_attribute("data-leg") for i in range(drawn.count())} == used
    borders = set(inst.legs["border"].dropna())
    assert count(page, "#r0-map g.border") == len(borders) == 15
    assert count(page, "svg.map") == 2  # the overview and the Caspian detail
    assert count(page, "#r0-map rect.frame") == 1
    # tables against the plan's own tables
    assert count(page, "table.costs tbody tr") == plan.costs["component"].nunique()
    if plan.bottlenecks.empty:
        assert "Prices were not computed" in page.locator("section.bottlenecks").inner_text()
    else:
        assert count(page, "table.bottlenecks tbody tr") == len(plan.bottlenecks)
    if plan.unserved.empty:
        assert "Every lot is served" in page.locator("section.unserved").inner_text()
    else:
        assert count(page, "table.unserved tbody tr") == len(plan.unserved)
    moved = float(plan.summary["teu_moved"].iloc[0])
    assert text(page, '.card[data-key="TEU moved"] .v') == f"{moved:,.0f}"
    screenshot(page, tmp_path, "report-eurasia")
    page.close()


def test_corridor_accounting_is_explained(eurasia_run: Path) -> None:
    # the corridor split counts routes whole (feeders folded in), the cost breakdown by the tag
    # of each leg (a local column); the note beside the breakdown says so with the figures
    plan, _ = read_run(eurasia_run)
    page = (eurasia_run / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section class="costs">(.*?)</section>', page, re.S)
    assert section is not None
    note = re.search(r'<p class="note corridor-accounting">(.*?)</p>', section.group(1), re.S)
    assert note is not None
    words = " ".join(note.group(1).split())
    costs = plan.costs
    route = costs[costs["component"].isin(["freight", "border", "handling", "time_value", "co2"])]
    feeders = route.loc[route["corridor"] == "local", "cost"].sum()
    assert feeders > 1e6  # Eurasia's local feeders carry real cost
    assert f"a column of their own ({feeders:,.0f} USD of route cost)" in words
    # both conventions add up to the routes' cost: the split's bars and the breakdown's columns
    assert plan.routes["cost"].sum() == pytest.approx(route["cost"].sum(), rel=1e-12)
    assert f"the same route cost, {plan.routes['cost'].sum():,.0f} USD" in words
    head = re.findall(r"<th[^>]*>(.*?)</th>", section.group(1))
    assert "local" in head
    assert "by leg corridor" in section.group(1)
    split = re.search(r'<section class="corridors">(.*?)</section>', page, re.S)
    assert split is not None
    assert "the cost breakdown below keeps the feeder legs apart" in " ".join(
        split.group(1).split()
    )


def visible_rows(page: object, selector: str) -> int:
    """Rows of a table that the page shows (the search box hides the others)."""
    return int(
        page.evaluate(  # type: ignore[attr-defined]
            f"() => [...document.querySelectorAll('{selector} tbody tr')]"
            ".filter(r => r.offsetParent !== null).length"
        )
    )


def _eurasia_page(browser: object, run: Path) -> tuple[Any, Plan, Instance]:
    """The Eurasia report open in Chromium (checked clean), with its plan and instance."""
    html = run / "report.html"
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    plan, inst = read_run(run)
    assert inst is not None
    return loaded.page, plan, inst


def test_route_table_and_search(browser: object, eurasia_run: Path, tmp_path: Path) -> None:
    page, plan, inst = _eurasia_page(browser, eurasia_run)
    routes = plan.routes
    assert count(page, "#r0-routes tbody tr") == visible_rows(page, "#r0-routes") == len(routes)
    # every row names the lot's origin and destination from the cargo table, with their ids
    first = routes.iloc[0]
    lot = inst.cargo.loc[first["lot"]]
    cells = page.locator("#r0-routes tbody tr").first.locator("td").all_inner_texts()  # type: ignore[attr-defined]
    assert cells[0] == first["lot"]
    origin, destination = (inst.nodes.loc[lot[k], "name"] for k in ("origin", "destination"))
    assert cells[1] == f"{origin} ({lot['origin']}) →\n{destination} ({lot['destination']})"
    assert cells[2] == lot["class"]
    names = [inst.nodes.loc[n, "name"] for n in first["nodes"].split(" > ")]
    assert cells[4].startswith(" → ".join(names))
    assert cells[8] == f"{first['teu']:,.1f}"
    assert cells[9] == f"{first['cost_per_teu']:,.0f}"
    # late / on time / no due, as many as the routes table says
    statuses = page.locator("#r0-routes td.status").all_inner_texts()  # type: ignore[attr-defined]
    due = routes["due_days"].notna()
    assert statuses.count("late") == int(routes["late"].sum())
    assert statuses.count("no due") == int((~due).sum())
    assert statuses.count("on time") == int((due & ~routes["late"]).sum())

    box = page.locator("#r0-route-search")  # type: ignore[attr-defined]
    # a lot id: only that lot's routes (a split lot has several); the id is in no node or leg
    split = routes["lot"].value_counts()
    lot_id = str(split.index[0])
    assert split.iloc[0] >= 2
    others = [*inst.nodes.index, *inst.nodes["name"], *inst.legs.index]
    assert not any(lot_id.lower() in str(x).lower() for x in others)
    expected = sum(lot_id.lower() in str(x).lower() for x in routes["lot"])
    assert expected == split.iloc[0]
    box.fill(lot_id.lower())
    assert visible_rows(page, "#r0-routes") == expected
    assert text(page, "#r0-route-count") == f"{expected} of {len(routes)} routes"
    # a node name: the routes passing through that node, whatever their lot
    box.fill("Duisburg")
    through = routes["nodes"].str.split(" > ").map(lambda ns: "DE_DUI" in ns)
    assert not any("duisburg" in str(x).lower() for x in [*routes["lot"], *inst.legs.index])
    assert 0 < visible_rows(page, "#r0-routes") == int(through.sum()) < len(routes)
    screenshot(page, tmp_path, "report-routes-search")
    box.fill("")
    assert visible_rows(page, "#r0-routes") == len(routes)
    page.close()


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_map_modes_labels_and_names(browser: object, eurasia_run: Path, tmp_path: Path) -> None:
    from allocator.report.map import CORRIDOR_COLOURS

    page, plan, inst = _eurasia_page(browser, eurasia_run)
    # labels: none overlaps another on either map (boxes as Chromium lays the text out)
    for svg in ("#r0-map", "#r0-detail"):
        boxes = page.evaluate(  # type: ignore[attr-defined]
            f"() => [...document.querySelectorAll('{svg} g.labels text')].map(t => {{"
            "const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })"
        )
        assert len(boxes) >= 12
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    # the key ports outside the Caspian are labelled on the overview
    labels = set(page.locator("#r0-map g.labels text").all_text_contents())  # type: ignore[attr-defined]
    assert {"Rotterdam", "Dalian", "Qingdao", "Nhava Sheva", "St Petersburg"} <= labels
    # utilisation mode first: the stroke is the leg's utilisation colour
    legs = page.locator("#r0-map path.leg.used")  # type: ignore[attr-defined]
    tags = inst.legs["corridor"].fillna("local")
    for i in range(legs.count()):
        path = legs.nth(i)
        stroke = page.evaluate("e => getComputedStyle(e).stroke", path.element_handle())  # type: ignore[attr-defined]
        assert stroke == rgb(path.get_attribute("stroke"))
    assert page.locator("section.network .legend .corridor").first.is_hidden()  # type: ignore[attr-defined]
    # corridor mode: every used leg in its corridor's colour, the corridor legend shown
    page.locator('input[name="r0-colour"][value="corridor"]').check()  # type: ignore[attr-defined]
    for i in range(legs.count()):
        path = legs.nth(i)
        stroke = page.evaluate("e => getComputedStyle(e).stroke", path.element_handle())  # type: ignore[attr-defined]
        assert stroke == rgb(CORRIDOR_COLOURS[tags[path.get_attribute("data-leg")]])
    shown = page.locator("section.network .legend .corridor").all_inner_texts()  # type: ignore[attr-defined]
    assert {t.strip() for t in shown} >= {"northern", "middle", "local"}
    assert page.locator("section.network .legend .util").first.is_hidden()  # type: ignore[attr-defined]
    # names beside ids in hovers, and the reverse suffix explained in the legend
    reverse = next(str(x) for x in plan.flows["leg"] if str(x).endswith("~r"))
    a, b = inst.legs.loc[reverse, ["from", "to"]]
    hover = title(page, f'#r0-map path.leg.used[data-leg="{reverse}"] title')
    assert f"{inst.nodes.loc[a, 'name']} ({a}) → {inst.nodes.loc[b, 'name']} ({b})" in hover
    assert f"reverse of {reverse.removesuffix('~r')}" in hover
    assert "~r after a leg id: the same leg in the opposite direction" in text(
        page, "section.network .legend"
    )
    screenshot(page, tmp_path, "report-corridor-mode")
    page.close()


def lmap_legs(page: object, uid: str = "r0", corridor: str | None = None) -> dict[str, Any]:
    """The interactive map's leg polylines drawn now: data-leg -> (corridor, stroke, width)."""
    where = f'[data-corridor="{corridor}"]' if corridor else ""
    rows = page.evaluate(  # type: ignore[attr-defined]
        f"() => [...document.querySelectorAll('#{uid}-lmap path.lleg{where}')].map(p => ["
        "p.dataset.leg, p.dataset.corridor, p.getAttribute('stroke'),"
        " +p.getAttribute('stroke-width')])"
    )
    return {leg: (c, stroke, width) for leg, c, stroke, width in rows}


def test_interactive_map(browser: object, eurasia_run: Path, tmp_path: Path) -> None:
    from allocator.report.map import CORRIDOR_COLOURS

    page, plan, inst = _eurasia_page(browser, eurasia_run)  # no console error, no request
    box = page.locator("#r0-lmap")  # type: ignore[attr-defined]
    box.scroll_into_view_if_needed()
    # one polyline per leg with flow, in its corridor's colour, as wide as its TEU (the busiest
    # 11 px, at least 1.4 px)
    flow = plan.legs.set_index("leg")["flow_teu"]
    carrying = flow[flow > 1e-6]
    legs = lmap_legs(page)
    assert len(legs) == count(page, "#r0-lmap path.lleg") == len(carrying) > 40
    assert set(legs) == set(carrying.index)
    tags = inst.legs["corridor"].fillna("local")
    for leg_id, (corridor, stroke, width) in legs.items():
        assert corridor == tags[leg_id]
        assert stroke == CORRIDOR_COLOURS[corridor]
        teu = carrying[leg_id]
        assert width == pytest.approx(max(1.4, 11 * teu / carrying.max()), abs=0.01)
    # a deep-sea leg goes along the sea lanes, not across Asia
    data = json.loads(page.locator("#map-data").text_content())  # type: ignore[attr-defined]
    drawn = {leg["leg"]: leg for leg in data["maps"]["r0"]["legs"]}
    sea = [x for x in carrying.index if inst.legs.at[x, "mode"] == "sea"]
    longest = max(sea, key=lambda x: len(drawn[x]["points"]))
    a, b = (inst.nodes.loc[inst.legs.at[longest, k]] for k in ("from", "to"))
    lane = sea_route((a["lon"], a["lat"]), (b["lon"], b["lat"]))
    assert len(lane) > 4
    assert drawn[longest]["points"] == [[round(lat, 3), round(lon, 3)] for lon, lat in lane]
    # every node a circle marker
    assert count(page, "#r0-lmap path.lnode") == len(inst.nodes)

    # hover: a node's name, a leg's nodes by name with their TEU
    tip = box.locator(".leaflet-tooltip")
    box.locator('path.lnode[data-node="DE_DUI"]').hover()
    tip.wait_for()
    assert inst.nodes.at["DE_DUI", "name"] in tip.inner_text()
    page.mouse.move(5, 5)  # type: ignore[attr-defined]
    tip.wait_for(state="detached")
    # (the busiest leg whose opposite direction carries nothing: both directions share a line)
    ends = {x: frozenset(inst.legs.loc[x, ["from", "to"]]) for x in carrying.index}
    shared = Counter(ends.values())
    alone = [x for x in ends if shared[ends[x]] == 1]
    busiest = str(carrying[alone].idxmax())
    box.locator(f'path.lleg[data-leg="{busiest}"]').hover()
    tip.wait_for()
    x, y = inst.legs.loc[busiest, ["from", "to"]]
    hover = tip.inner_text()
    assert f"{inst.nodes.at[x, 'name']} ({x}) → {inst.nodes.at[y, 'name']} ({y})" in hover
    assert f"{carrying[busiest]:,.0f} TEU" in hover

    # zoom: the + button, then the map's API
    z0 = float(box.get_attribute("data-zoom"))
    box.locator(".leaflet-control-zoom-in").click()
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => +document.getElementById('r0-lmap').dataset.zoom === {z0 + 1}"
    )
    page.evaluate("() => window.allocatorMaps.r0.setZoom(2)")  # type: ignore[attr-defined]
    assert page.evaluate("() => window.allocatorMaps.r0.getZoom()") == 2  # type: ignore[attr-defined]
    page.wait_for_function("() => document.getElementById('r0-lmap').dataset.zoom === '2'")  # type: ignore[attr-defined]

    # the layer control: one box per corridor with flow, and the nodes; unticking a corridor
    # removes exactly its polylines, ticking it brings them back
    labels = box.locator(".leaflet-control-layers-overlays label")
    names = [t.strip() for t in labels.all_inner_texts()]
    assert names == [*sorted(set(tags[carrying.index])), "nodes"]
    northern = lmap_legs(page, corridor="northern")
    assert len(northern) == int((tags[carrying.index] == "northern").sum()) > 0
    labels.nth(names.index("northern")).locator("input").uncheck()
    assert lmap_legs(page, corridor="northern") == {}
    assert set(lmap_legs(page)) == set(legs) - set(northern)
    screenshot(page, tmp_path, "report-interactive-map")
    labels.nth(names.index("northern")).locator("input").check()
    assert set(lmap_legs(page)) == set(legs)
    page.close()


# the page's code, all packaged: the route search, and with a map Leaflet as vendored, the map
# script and the maps' data (one JSON block); the styles: report.css, with a map leaflet.css first
TEMPLATES = files("allocator.report").joinpath("templates")
VENDOR = files("allocator.report").joinpath("vendor")
FILTER_JS = TEMPLATES.joinpath("filter.js").read_text(encoding="utf-8")
MAP_JS = TEMPLATES.joinpath("map.js").read_text(encoding="utf-8")
REPORT_CSS = TEMPLATES.joinpath("report.css").read_text(encoding="utf-8")
LEAFLET_JS = VENDOR.joinpath("leaflet.js").read_text(encoding="utf-8")
LEAFLET_CSS = VENDOR.joinpath("leaflet.css").read_text(encoding="utf-8")
DATA_BLOCK = 'type="application/json" id="map-data"'
LEAFLET_JS_MAP = [LEAFLET_JS.strip(), MAP_JS.strip()]


def scripts_expected(maps: bool) -> list[tuple[str, str | None]]:
    """(attributes, text) of the page's scripts in order; None: the JSON data block."""
    code = [("", FILTER_JS.strip())]
    return code + [(DATA_BLOCK, None), ("", LEAFLET_JS.strip()), ("", MAP_JS.strip())] * maps


def split_page(page: str, maps: bool) -> tuple[str, dict[str, Any] | None]:
    """The page without its packaged scripts and Leaflet's style, and its map data (None
    without a map). Asserts the scripts and styles are exactly the packaged ones, and that the
    data block holds no '<' (so no text in it can end the element)."""
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S | re.I)
    found = [(attrs.strip(), text.strip()) for attrs, text in scripts]
    expected = scripts_expected(maps)
    assert [(a, t if t is not None else found[i][1]) for i, (a, t) in enumerate(expected)] == found
    styles = [t.strip() for t in re.findall(r"<style>(.*?)</style>", page, re.S)]
    assert styles == [LEAFLET_CSS.strip()] * maps + [REPORT_CSS.strip()]
    data = None
    if maps:
        block = found[1][1]
        assert "<" not in block
        data = json.loads(block)
    rest = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    rest = rest.replace(LEAFLET_CSS.strip(), "") if maps else rest
    return rest, data


def test_no_external_urls(eurasia_run: Path) -> None:
    page, data = split_page((eurasia_run / "report.html").read_text(encoding="utf-8"), maps=True)
    assert data is not None
    assert "http" not in json.dumps(data).lower()
    assert "<script" not in page.lower()
    assert "http" not in page.lower()
    assert "//" not in re.sub(r"<title>.*?</title>", "", page)  # no protocol-relative URLs
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert "@import" not in page
    assert "@font-face" not in page
    assert re.findall(r"url\(", page) == []
    assert not re.search(r"\bsrc=", page)
    assert set(re.findall(r'href="(.)', page)) <= {"#"}  # only in-page links and <use> refs


# ---------------------------------------------------------------- several runs


def test_several_runs_side_by_side(
    browser: object, make_instance_folder: MakeFolder, tmp_path: Path
) -> None:
    # run b: the ferry takes 100 TEU, so all 70 TEU move (border KZAZ 80 is not reached)
    tiny_legs = (
        "id,from,to,mode,distance_km,transit_hours,cost_per_teu,capacity_teu,border,reverse\n"
        "AAU-MNG,KZ_AAU,KZ_MNG,rail,2000,70,500,,,true\n"
        "MNG-BAK,KZ_MNG,AZ_BAK,ferry,430,20,300,100,KZAZ,false\n"
        "BAK-TBS,AZ_BAK,GE_TBS,rail,500,20,200,,,true\n"
    )
    a = solve_run(make_instance_folder("a"), tmp_path / "runs" / "a")
    b = solve_run(make_instance_folder("b", legs=tiny_legs), tmp_path / "runs" / "b")
    out = tmp_path / "cmp.html"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    loaded = open_page(browser, out)
    loaded.assert_clean(out)
    page = loaded.page
    assert count(page, "section.comparison") == 1
    heads = page.locator("table.comparison thead th").all_inner_texts()
    assert heads == ["metric", "a", "b"]
    # the side-by-side view comes first, then one section per run, each with its map
    order = page.evaluate(
        "() => [...document.querySelectorAll('section.comparison, section.run')].map(s => s.id)"
    )
    assert order == ["side-by-side", "r0", "r1"]
    # each run's report is folded; its interactive map is drawn when it is unfolded
    assert count(page, ".leaflet-container") == 0
    assert unfold(page) == [False, False]
    assert count(page, "#r0-map") == 1
    assert count(page, "#r1-map") == 1
    page.wait_for_function("() => document.querySelectorAll('.leaflet-container').length === 2")
    for uid, path in (("r0", a), ("r1", b)):
        legs = read_run(path)[0].legs
        assert set(lmap_legs(page, uid)) == set(legs["leg"][legs["flow_teu"] > 1e-6])
    assert set(lmap_legs(page, "r1")) == {"AAU-MNG", "MNG-BAK", "BAK-TBS"}
    assert text(page, '#r0 .card[data-key="TEU unserved"] .v') == "20"
    assert text(page, '#r1 .card[data-key="TEU unserved"] .v') == "0"
    assert count(page, "#r1 section.unserved table") == 0
    screenshot(page, tmp_path, "report-compare")
    page.close()

    # without a comparison frame the report computes a minimal one
    plans = {name: read_run(path)[0] for name, path in (("a", a), ("b", b))}
    page_html = render_html(plans)
    rows = re.search(r'<table class="comparison">.*?<tbody>(.*?)</tbody>', page_html, re.S)
    assert rows is not None
    # 10 headline metrics, one corridor ("(none)"), binding capacities
    assert rows.group(1).count("<tr>") == 12
    assert "TEU (none)" in rows.group(1)


@pytest.fixture(scope="module")
def scenario_solve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``solve tiny -s x2.toml``: OUT/base, OUT/ferry-x2, compare files and report.html in OUT.

    The tiny instance: 20 of 70 TEU stay behind the 50 TEU ferry; doubling it moves all 70, so
    AAU-MNG and MNG-BAK carry 50 -> 70 TEU and BAK-TBS (L1's 40 TEU and 20 unserved) 20 -> 40."""
    from conftest import TINY_FILES

    root = tmp_path_factory.mktemp("scenarios")
    folder = root / "tiny"
    folder.mkdir()
    for name, body in TINY_FILES.items():
        (folder / name).write_text(body, encoding="utf-8")
    (root / "x2.toml").write_text(
        'name = "ferry-x2"\nbase = "."\ndescription = "The Aktau ferry sails twice as often."\n'
        '[[change]]\nkind = "scale_capacity"\nof = "legs"\nwhere = { id = "MNG-BAK" }\n'
        "factor = 2\n",
        encoding="utf-8",
    )
    out = root / "out"
    assert main(["solve", str(folder), "-s", str(root / "x2.toml"), "--out", str(out), "-q"]) == 0
    return out


STORY = "The Aktau ferry sails twice as often."


def test_scenario_comparison_tells_the_story(
    browser: object, scenario_solve: Path, tmp_path: Path
) -> None:
    from allocator.analysis.compare import read_scenarios

    out = scenario_solve
    notes = read_scenarios(out)
    assert list(notes) == ["base", "ferry-x2"]
    assert notes["ferry-x2"].description == "The Aktau ferry sails twice as often."
    assert notes["ferry-x2"].changes == ("capacity of 1 leg(s) x2",)
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert md.index("The Aktau ferry sails twice as often.") < md.index("| metric |")

    html = out / "report.html"
    loaded = open_page(browser, html)
    loaded.assert_clean(html)
    page = loaded.page
    # the story first: what each run is, then the numbers, then where the cargo shifted
    order = page.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('main > section')].map(s => s.className)"
    )
    assert order[:3] == ["scenarios", "comparison", "changes"]
    assert page.locator(".scenarios dt").all_inner_texts() == ["base", "ferry-x2"]  # type: ignore[attr-defined]
    story = text(page, ".scenarios")
    assert "The Aktau ferry sails twice as often." in story
    assert notes["ferry-x2"].changes[0] in story
    gains = page.locator("#d1-map path.leg.used.gain")  # type: ignore[attr-defined]
    assert {gains.nth(i).get_attribute("data-leg") for i in range(gains.count())} == {
        "AAU-MNG",
        "MNG-BAK",
        "BAK-TBS",
    }
    assert count(page, "#d1-map path.leg.used.loss") == 0
    for leg_id in ("AAU-MNG", "MNG-BAK", "BAK-TBS"):
        assert "+20 TEU against base" in title(page, f'#d1-map [data-leg="{leg_id}"] title')
    assert "3 legs changed, +60 / −0 TEU" in text(page, "section.changes h3")
    assert unfold(page) == [False, False]
    screenshot(page, tmp_path, "report-scenarios")
    page.close()


def story_parts(page: str) -> dict[str, Any]:
    """What a comparison page shows, from its HTML: the runs it describes (name, description,
    changes), the legs of each difference map gaining and losing TEU, and the folded runs."""
    story = re.search(r'<section class="scenarios">(.*?)</section>', page, re.S)
    runs = []
    if story:
        for name, body in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", story.group(1), re.S):
            changes = re.findall(r"<li>(.*?)</li>", body)
            runs.append((name, body.split("<ul>")[0].strip(), changes))
    maps = re.findall(r'<svg class="map" id="(d\d+)-map".*?</svg>', page, re.S)
    gain = re.findall(r'class="leg used gain" data-leg="([^"]+)"', page)
    loss = re.findall(r'class="leg used loss" data-leg="([^"]+)"', page)
    folded = re.findall(r'<details class="run"><summary>The full report of (.*?)</summary>', page)
    return {"runs": runs, "maps": maps, "gain": set(gain), "loss": set(loss), "folded": folded}


def test_compare_and_report_of_scenario_runs_tell_the_story(
    scenario_solve: Path, tmp_path: Path
) -> None:
    # `compare --report` and `report A B` of the runs a scenario solve wrote: each run's
    # description and changes first (from OUT/scenarios.json), a difference map, folded runs
    from helpers import run_cli

    base, x2 = str(scenario_solve / "base"), str(scenario_solve / "ferry-x2")
    done = run_cli(
        "compare", base, x2, "--out", str(tmp_path / "cmp"), "--report", "--format", "table"
    )
    assert done.returncode == 0, done.stderr
    assert f"ferry-x2: {STORY}" in done.stdout
    assert "capacity of 1 leg(s) x2" in done.stdout
    assert done.stdout.index(STORY) < done.stdout.index("comparison")
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert md.index(STORY) < md.index("| metric |")
    done = run_cli("report", base, x2, "--out", str(tmp_path / "two.html"))
    assert done.returncode == 0, done.stderr
    expected = [
        ("base", "the instance as given", []),
        ("ferry-x2", STORY, ["capacity of 1 leg(s) x2"]),
    ]
    pages = [
        tmp_path / "cmp" / "report.html",
        tmp_path / "two.html",
        scenario_solve / "report.html",
    ]
    for html in pages:
        parts = story_parts(html.read_text(encoding="utf-8"))
        assert parts["runs"] == expected, html
        assert parts["maps"] == ["d1"]
        assert parts["gain"] == {"AAU-MNG", "MNG-BAK", "BAK-TBS"}
        assert parts["loss"] == set()
        assert parts["folded"] == ["base", "ferry-x2"]

    # runs from no scenario solve: no story, the difference map and folded runs all the same
    other = tmp_path / "elsewhere"
    for name in ("base", "ferry-x2"):
        shutil.copytree(scenario_solve / name, other / name)
    done = run_cli(
        "report",
        str(other / "base"),
        str(other / "ferry-x2"),
        "--out",
        str(tmp_path / "plain.html"),
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "plain.html").read_text(encoding="utf-8")
    assert 'class="scenarios"' not in page
    parts = story_parts(page)
    assert parts["runs"] == []
    assert parts["maps"] == ["d1"]
    assert parts["folded"] == ["base", "ferry-x2"]


# ---------------------------------------------------------------- CLI errors, missing instance


def test_report_bad_run_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert "nowhere" in err
    assert "no such plan folder" in err
    assert "Traceback" not in out + err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    out, err = capsys.readouterr()
    assert "summary" in err
    assert "Traceback" not in out + err


def test_report_without_instance(
    make_instance_folder: MakeFolder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_instance_folder()
    run = solve_run(folder, tmp_path / "run")
    (run / "instance.json").unlink()
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "nomap.html")]) == 0
    assert "without the map" in capsys.readouterr().err
    page = (tmp_path / "nomap.html").read_text(encoding="utf-8")
    assert 'class="map' not in page
    assert "No map" in page
    assert (
        main(["report", str(run), "--instance", str(folder), "--out", str(tmp_path / "m.html")])
        == 0
    )
    assert 'id="r0-map"' in (tmp_path / "m.html").read_text(encoding="utf-8")


def test_text_is_escaped(tmp_path: Path) -> None:
    inst = build(
        nodes=[node("A", name="Port <b>A</b> & Co"), node("B")],
        legs=[leg("AB", "A", "B", 100)],
        classes=FREE_TIME,
        cargo=[lot("L<1>", "A", "B", 5)],
    )
    from allocator.pipeline import RunOptions, run

    res = run(inst, RunOptions())
    assert res.plan is not None
    page = render_html({"x<y>": res.plan}, {"x<y>": inst})
    assert "Port &lt;b&gt;A&lt;/b&gt; &amp; Co" in page
    assert "<b>A</b>" not in page
    assert "x<y>" not in page


# ---------------------------------------------------------------- outline and sea lanes


def test_outline_is_packaged_and_small() -> None:
    resource = files("allocator.report.outline").joinpath("outline.json")
    raw = resource.read_bytes()
    assert len(raw) < 300_000
    doc = json.loads(raw)
    assert "public domain" in doc["licence"]
    lon0, lat0, lon1, lat1 = doc["bbox"]
    iso = {c["iso2"] for c in doc["countries"]}
    assert {"CN", "KZ", "RU", "AZ", "IR", "TR", "DE", "NL", "IN"} <= iso
    for c in doc["countries"]:
        for ring in c["rings"]:
            assert len(ring) >= 6
            assert len(ring) % 2 == 0
            assert all(lon0 <= x <= lon1 for x in ring[0::2])
            assert all(lat0 <= y <= lat1 for y in ring[1::2])


def test_leaflet_is_vendored_as_shipped() -> None:
    import hashlib
    import subprocess
    import tomllib

    from allocator.report.html import LEAFLET_VERSION, vendored

    readme = VENDOR.joinpath("README.md").read_text(encoding="utf-8")
    assert f"Leaflet {LEAFLET_VERSION}" in readme
    assert f"leaflet@{LEAFLET_VERSION}" in readme
    # the files as the npm package ships them: the checksums the README records
    for name in ("leaflet.js", "leaflet.css", "LICENSE"):
        raw = VENDOR.joinpath(name).read_bytes()
        assert f"| `{name}` | {len(raw)} | `{hashlib.sha256(raw).hexdigest()}` |" in readme
    assert LEAFLET_JS.startswith(f"/* @preserve\n * Leaflet {LEAFLET_VERSION}, ")
    assert VENDOR.joinpath("LICENSE").read_text(encoding="utf-8").startswith("BSD 2-Clause License")
    assert vendored("leaflet.js") == LEAFLET_JS  # inlined as it is (no '</script' inside)
    # packaged: the wheel takes every file under src/allocator that git does not ignore
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["packages"] == ["src/allocator"]
    assert "exclude" not in wheel["targets"]["wheel"]
    folder = "src/allocator/report/vendor"
    names = ["README.md", "LICENSE", "leaflet.js", "leaflet.css"]
    ignored = subprocess.run(
        ["git", "check-ignore", *(f"{folder}/{n}" for n in names)], cwd=REPO, capture_output=True
    )
    assert ignored.returncode == 1, ignored.stdout  # none ignored


def test_sea_lanes() -> None:
    shanghai, rotterdam = (121.48, 31.23), (4.5, 51.92)
    aktau, alat = (51.15, 43.65), (49.4, 39.95)
    # deep sea Shanghai -> Rotterdam goes by Malacca, Suez and Gibraltar, not across Asia
    route = sea_route(shanghai, rotterdam)
    inner = route[1:-1]
    assert route[0] == shanghai
    assert route[-1] == rotterdam
    assert set(inner) <= set(WAYPOINTS.values())
    for lane in ("Singapore Strait", "Bab-el-Mandeb", "Port Said", "Gibraltar"):
        assert WAYPOINTS[lane] in inner
    # a Caspian crossing is drawn straight
    assert sea_route(aktau, alat) == (aktau, alat)


def test_run_labels_and_corridor_folding() -> None:
    assert run_labels(["out/a/w47", "out/b/w47"]) == ["a/w47", "b/w47"]
    assert run_labels(["out/base", "out/halved"]) == ["base", "halved"]
    assert run_labels(["out/x", "out/x"]) == ["x", "x (2)"]
    assert main_corridor("local+northern") == "northern"
    assert main_corridor("northern+local+instc") == "northern+instc"
    assert main_corridor("local") == "local"
    assert main_corridor(float("nan")) == "(none)"


# ---------------------------------------------------------------- hostile names, templates

HOSTILE = '<script>alert(1)</script>"onmouseover='


def test_hostile_names_are_escaped_everywhere(browser: object, tmp_path: Path) -> None:
    # node id and name, leg id and corridor, lot id, the instance (scenario) name and the run
    # names carry markup; 25 TEU over a 10 TEU leg leave 15 TEU of the hostile lot unserved
    h = HOSTILE
    inst = build(
        settings={"name": "S" + h},
        nodes=[node("A" + h, name="N" + h), node("B", lon=70.0)],
        legs=[leg("AB" + h, "A" + h, "B", 100, capacity_teu=10, corridor="C" + h)],
        classes=FREE_TIME,
        cargo=[lot("L" + h, "A" + h, "B", 25)],
    )
    from allocator.pipeline import RunOptions, run

    res = run(inst, RunOptions())
    assert res.plan is not None
    assert not res.plan.bottlenecks.empty  # priced: the bottleneck and corridor-price tables
    unpriced = dataclasses.replace(
        res.plan, bottlenecks=pd.DataFrame(), corridor_prices=pd.DataFrame()
    )
    one = write_html_report(tmp_path / "one.html", {"R" + h: res.plan}, {"R" + h: inst})
    two = write_html_report(  # the second run without prices nor instance: binding table, no map
        tmp_path / "two.html", {"R" + h: res.plan, "Q" + h: unpriced}, {"R" + h: inst}
    )
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for html in (one, two):  # rendered with StrictUndefined: every template name was defined
        source, data = split_page(html.read_text(encoding="utf-8"), maps=True)
        assert data is not None  # the names travel in the data block as \u003c escapes
        assert data["maps"]["r0"]["legs"][0]["leg"] == "AB" + h
        assert data["maps"]["r0"]["legs"][0]["corridor"] == "C" + h
        assert "r1" not in data["maps"]  # the second run has no instance
        assert "<script" not in source
        assert '"onmouseover=' not in source
        assert source.count("alert(1)") == source.count(escaped) > 0
        before = re.findall(r"(&quot;|&#34;|.)onmouseover=", source)
        assert before
        assert set(before) <= {"&quot;", "&#34;"}  # report.map's html.escape, or the engine

        loaded = open_page(browser, html)
        page = loaded.page
        loaded.assert_clean(html)
        assert unfold(page) == ([] if html == one else [False, False])
        # no script element but the packaged ones and no event-handler attribute: nothing from
        # the names runs
        scripts = page.evaluate(
            "() => [...document.querySelectorAll('script')].map(s => [s.type, s.text.trim()])"
        )
        assert len(scripts) == 4
        assert [t for t, _ in scripts] == ["", "application/json", "", ""]
        assert [x for _, x in scripts] == [FILTER_JS.strip(), scripts[1][1], *LEAFLET_JS_MAP]
        assert not page.evaluate(
            "() => [...document.querySelectorAll('*')].some("
            "e => [...e.attributes].some(a => a.name.startsWith('on')))"
        )
        # the names read back as plain text where the report shows them
        assert text(page, "table.unserved tbody td:nth-child(1)") == "L" + h
        assert text(page, "table.unserved tbody td:nth-child(2)") == f"A{h} → B"
        assert text(page, "table.bottlenecks tbody td:nth-child(2)") == "AB" + h
        folded = page.locator("table.corridor-prices").text_content()  # in a closed <details>
        assert f"A{h} → B" in folded
        assert page.locator("#r0-map path.leg.used").get_attribute("data-leg") == "AB" + h
        assert f"N{h}" in page.locator("#r0-map").text_content()  # type: ignore[attr-defined]
        # the interactive map (drawn once its run is unfolded): the names as plain text in its
        # hovers and its layer control
        page.wait_for_selector("#r0-lmap path.lleg", state="attached")  # type: ignore[attr-defined]
        lmap = page.locator("#r0-lmap")  # type: ignore[attr-defined]
        assert lmap.locator("path.lleg").get_attribute("data-leg") == "AB" + h
        assert lmap.locator("path.lleg").get_attribute("data-corridor") == "C" + h
        layers = lmap.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert [t.strip() for t in layers] == ["C" + h, "nodes"]
        dot = lmap.locator("path.lnode").first  # the nodes in the instance's order
        assert dot.get_attribute("data-node") == "A" + h
        dot.hover()
        tip = lmap.locator(".leaflet-tooltip")
        tip.wait_for()
        assert tip.inner_text().splitlines()[0] == f"N{h} (A{h}; hub, KZ)"
        assert count(page, "#r1-lmap") == 0  # no instance, no map
        assert not page.evaluate(
            "() => [...document.querySelectorAll('*')].some("
            "e => [...e.attributes].some(a => a.name.startsWith('on')))"
        )
        loaded.assert_clean(html)
        page.close()
    loaded = open_page(browser, one)
    assert text(loaded.page, "h1") == "Plan S" + h
    assert loaded.page.title() == "Plan S" + h  # type: ignore[attr-defined]
    assert "R" + h in text(loaded.page, "p.sub")
    loaded.page.close()
    loaded = open_page(browser, two)
    page = loaded.page
    unfold(page)
    assert page.locator("nav a").all_inner_texts() == ["R" + h, "Q" + h]  # type: ignore[attr-defined]
    heads = page.locator("table.comparison thead th").all_inner_texts()  # type: ignore[attr-defined]
    assert heads == ["metric", "R" + h, "Q" + h]
    assert text(page, "#r1 > h2") == "Q" + h
    assert text(page, "#r1 table.binding tbody td:nth-child(2)") == "AB" + h
    assert "No map" in text(page, "#r1 section.network")
    page.close()


def test_templates_escape_and_reject_undefined_names() -> None:
    import jinja2

    from allocator.report.html import environment

    env = environment()
    template = env.from_string("<b>{{ run.name }}</b>")
    assert template.render(run={"name": HOSTILE}) == (
        "<b>&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=</b>"
    )
    with pytest.raises(jinja2.UndefinedError):
        template.render(run={})
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("report.html.j2").render()


def test_runs_are_named_as_in_compare() -> None:
    from allocator.analysis.compare import run_names

    assert run_labels is run_names
    assert run_names(["out/x", "out/x"]) == ["x", "x (2)"]
    assert run_names(["out/a/x", "out/a/x", "out/b/x"]) == ["a/x", "a/x (2)", "b/x"]
