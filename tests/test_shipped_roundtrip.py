"""Every shipped instance converts losslessly between the three containers."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.cli import main
from allocator.instance.io import instance_hash, to_json_dict
from allocator.instance.validate import read_instance

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [
    REPO / "instances" / "eurasia",
    *sorted((REPO / "instances" / "eurasia" / "weeks").glob("*.toml")),
    REPO / "instances" / "eurasia" / "week",  # the timed week
]


@pytest.mark.parametrize("source", SHIPPED, ids=lambda p: p.name)
def test_round_trip_through_every_container(source: Path, tmp_path: Path) -> None:
    original = read_instance(source)
    want = instance_hash(original)
    current = source
    for target in (tmp_path / "a.xlsx", tmp_path / "b.json", tmp_path / "c", tmp_path / "d"):
        extra = ["--table-format", "parquet"] if target.name == "d" else []
        assert main(["convert", str(current), str(target), *extra]) == 0
        again = read_instance(target)
        assert to_json_dict(again) == to_json_dict(original)
        assert instance_hash(again) == want
        current = target
