"""Reading and writing the three containers: lossless round trips, shared tables, atomic writes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

import allocator.instance.io as aio
from allocator.errors import InstanceError
from allocator.instance.io import instance_hash, read_raw, to_json_dict, write_instance
from allocator.instance.validate import read_instance


def _leftovers(folder: Path) -> list[str]:
    """Hidden temporary entries an interrupted or finished write could leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_round_trip_folder_xlsx_json_folder(tiny_folder: Path, tmp_path: Path) -> None:
    original = read_instance(tiny_folder)
    out = tmp_path / "out"
    via_xlsx = read_instance(write_instance(original, out / "tiny.xlsx"))
    via_json = read_instance(write_instance(via_xlsx, out / "tiny.json"))
    back = read_instance(write_instance(via_json, out / "folder"))
    expected = to_json_dict(original)
    for inst in (via_xlsx, via_json, back):
        assert to_json_dict(inst) == expected
        assert instance_hash(inst) == instance_hash(original)
    assert sorted(p.name for p in (out / "folder").iterdir()) == [
        "borders.csv",
        "cargo.csv",
        "classes.csv",
        "instance.toml",
        "legs.csv",
        "nodes.csv",
        "restrictions.csv",
    ]
    assert _leftovers(out) == []


def test_extra_columns_survive_every_container(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    for name in ("tiny.xlsx", "tiny.json", "folder", "parquet"):
        fmt = "parquet" if name == "parquet" else "csv"
        again = read_instance(write_instance(inst, tmp_path / name, table_format=fmt))
        assert "note" in again.nodes.columns, name
        assert again.nodes.loc["KZ_AAU", "note"] == "dry port"
        assert again.nodes["note"].drop("KZ_AAU").isna().all(), name  # empty stays missing
        assert list(again.nodes.columns) == list(inst.nodes.columns)


def test_parquet_tables_round_trip(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    out = write_instance(inst, tmp_path / "pq", table_format="parquet")
    doc = tomllib.loads((out / "instance.toml").read_text())
    assert set(doc["tables"].values()) == {
        f"{t}.parquet" for t in ("nodes", "legs", "borders", "classes", "cargo", "restrictions")
    }
    again = read_instance(out)
    assert to_json_dict(again) == to_json_dict(inst)
    assert again.legs["max_services"].dtype == "Int64"
    assert again.legs["reverse"].dtype == bool


def test_same_data_has_the_same_hash_in_all_containers(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    hashes = {
        name: instance_hash(read_instance(write_instance(inst, tmp_path / name)))
        for name in ("a.xlsx", "a.json", "folder")
    }
    assert set(hashes.values()) == {instance_hash(inst)}
    # the hash is of the content: another period is another instance
    changed = inst.settings.model_copy(update={"period": "2026-W48"})
    other = type(inst)(**{**inst.__dict__, "settings": changed})
    assert instance_hash(other) != instance_hash(inst)


def test_instance_toml_path_reads_like_its_folder(tiny_folder: Path) -> None:
    assert instance_hash(read_instance(tiny_folder / "instance.toml")) == instance_hash(
        read_instance(tiny_folder)
    )


def test_tables_may_be_shared_from_a_parent_folder(
    tmp_path: Path, tiny_instance_files: dict[str, str]
) -> None:
    network = tmp_path / "network"
    network.mkdir()
    for table in ("nodes", "legs", "borders"):
        (network / f"{table}.csv").write_text(tiny_instance_files[f"{table}.csv"])
    toml = tiny_instance_files["instance.toml"]
    for week in ("w47", "w48"):
        folder = tmp_path / "weeks" / week
        folder.mkdir(parents=True)
        text = toml.replace('"nodes.csv"', '"../../network/nodes.csv"')
        text = text.replace('"legs.csv"', '"../../network/legs.csv"')
        text = text.replace('"borders.csv"', '"../../network/borders.csv"')
        (folder / "instance.toml").write_text(text.replace("2026-W47", f"2026-{week.upper()}"))
        for table in ("classes", "cargo", "restrictions"):
            (folder / f"{table}.csv").write_text(tiny_instance_files[f"{table}.csv"])
    w47 = read_instance(tmp_path / "weeks" / "w47")
    w48 = read_instance(tmp_path / "weeks" / "w48")
    assert len(w47.nodes) == len(w48.nodes) == 4
    assert w47.settings.period == "2026-W47"
    assert w48.settings.period == "2026-W48"
    raw = read_raw(tmp_path / "weeks" / "w47")
    assert raw.tables["nodes"].source.endswith("network/nodes.csv")
    assert ".." not in raw.tables["nodes"].source  # shown resolved


def test_error_in_a_shared_table_names_the_shared_file(
    tmp_path: Path, tiny_instance_files: dict[str, str]
) -> None:
    (tmp_path / "nodes.csv").write_text(
        tiny_instance_files["nodes.csv"].replace("43.6,51.1", "93.6,51.1")
    )
    folder = tmp_path / "inst"
    folder.mkdir()
    for name, text in tiny_instance_files.items():
        if name != "nodes.csv":
            (folder / name).write_text(text)
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text().replace('"nodes.csv"', '"../nodes.csv"'))
    with pytest.raises(InstanceError) as info:
        read_instance(folder)
    [p] = info.value.problems
    assert p.where == f"{tmp_path / 'nodes.csv'} line 3"
    assert p.column == "lat"


def test_excel_settings_sheet_uses_dotted_keys(tiny_folder: Path, tmp_path: Path) -> None:
    path = write_instance(read_instance(tiny_folder), tmp_path / "tiny.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "settings"
    rows = {r[0]: r[1] for r in wb["settings"].iter_rows(min_row=2, values_only=True)}
    assert rows["circuity.rail"] == 1.3
    assert rows["speed_kmh.sea"] == 30.0
    assert rows["name"] == "tiny"
    assert {"nodes", "legs", "borders", "classes", "cargo", "restrictions"} <= set(wb.sheetnames)


def test_json_holds_settings_and_one_list_per_table(tiny_folder: Path, tmp_path: Path) -> None:
    path = write_instance(read_instance(tiny_folder), tmp_path / "tiny.json")
    doc = json.loads(path.read_text())
    assert doc["settings"]["circuity"]["rail"] == 1.3
    assert [r["id"] for r in doc["legs"]] == ["AAU-MNG", "MNG-BAK", "BAK-TBS"]  # ~r folded back
    assert doc["legs"][0]["reverse"] is True
    assert doc["cargo"][0]["due_days"] is None
    assert "tariffs" not in doc  # empty optional tables are left out


def test_write_replaces_an_existing_folder(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    target = tmp_path / "out" / "inst"
    target.mkdir(parents=True)
    (target / "stale.csv").write_text("old\n")
    write_instance(inst, target)
    assert not (target / "stale.csv").exists()
    assert instance_hash(read_instance(target)) == instance_hash(inst)
    assert _leftovers(tmp_path / "out") == []


def test_write_replaces_an_existing_file(tiny_folder: Path, tmp_path: Path) -> None:
    inst = read_instance(tiny_folder)
    target = tmp_path / "inst.json"
    target.write_text("not json at all")
    write_instance(inst, target)
    assert json.loads(target.read_text())["settings"]["name"] == "tiny"
    assert _leftovers(tmp_path) == []


def test_failed_write_leaves_the_target_untouched(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = read_instance(tiny_folder)
    target = tmp_path / "inst.xlsx"
    target.write_bytes(b"previous workbook")

    def broken(inst: Any, path: Path) -> None:
        path.write_bytes(b"half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(aio, "_write_excel", broken)
    with pytest.raises(OSError, match="disk full"):
        write_instance(inst, target)
    assert target.read_bytes() == b"previous workbook"
    assert _leftovers(tmp_path) == []


def test_unknown_output_suffix_is_refused(tiny_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="unknown output"):
        write_instance(read_instance(tiny_folder), tmp_path / "inst.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_unknown_input_container_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inst.txt"
    path.write_text("x")
    with pytest.raises(InstanceError) as info:
        read_raw(path)
    assert "unknown container" in info.value.problems[0].message


def test_csv_cells_are_read_as_text(tiny_folder: Path) -> None:
    raw = read_raw(tiny_folder)
    nodes = raw.tables["nodes"]
    assert nodes.row_word == "line"
    assert nodes.where(0).endswith("nodes.csv line 2")
    assert nodes.frame.loc[1, "handling_capacity_teu"] == "100"
    assert isinstance(nodes.frame, pd.DataFrame)
    assert raw.settings["circuity"] == {"rail": 1.3}
