"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# ---------------------------------------------------------------- tiny instance (instance format)

# A sound four-node instance: Almaty -> Aktau/Mangistau (rail), ferry over the Caspian to Baku
# across border KZAZ, rail on to Tbilisi. CSV line numbers: the header is line 1, so the first
# data row is line 2 (nodes.csv: KZ_AAU 2, KZ_MNG 3, AZ_BAK 4, GE_TBS 5).
TINY_FILES: dict[str, str] = {
    "instance.toml": """\
[settings]
name = "tiny"
period = "2026-W47"

[settings.circuity]
rail = 1.3

[tables]
nodes = "nodes.csv"
legs = "legs.csv"
borders = "borders.csv"
classes = "classes.csv"
cargo = "cargo.csv"
restrictions = "restrictions.csv"
""",
    "nodes.csv": """\
id,name,country,lat,lon,kind,handling_capacity_teu,note
KZ_AAU,Almaty-1,KZ,43.2,76.9,rail_terminal,,dry port
KZ_MNG,Aktau,KZ,43.6,51.1,port,100,
AZ_BAK,Baku Alat,AZ,40.3,49.9,port,,
GE_TBS,Tbilisi,GE,41.7,44.8,city,,
""",
    "legs.csv": """\
id,from,to,mode,distance_km,transit_hours,cost_per_teu,capacity_teu,border,reverse
AAU-MNG,KZ_AAU,KZ_MNG,rail,2000,70,500,,,true
MNG-BAK,KZ_MNG,AZ_BAK,ferry,430,20,300,50,KZAZ,false
BAK-TBS,AZ_BAK,GE_TBS,rail,500,20,200,,,true
""",
    "borders.csv": """\
id,name,from_country,to_country,capacity_teu,dwell_hours,fee_per_teu,gauge_change
KZAZ,Caspian,KZ,AZ,80,24,10,false
""",
    "classes.csv": """\
id,value_per_teu_day
general,20
reefer,45
""",
    "cargo.csv": """\
id,origin,destination,teu,class,due_days
L1,KZ_AAU,GE_TBS,40,general,
L2,KZ_AAU,AZ_BAK,30,reefer,12
""",
    "restrictions.csv": """\
class,scope,target,reason
reefer,mode,road,no reefer trucks
""",
}

MakeFolder = Callable[..., Path]


@pytest.fixture
def make_instance_folder(tmp_path: Path) -> MakeFolder:
    """Write the tiny instance as a folder; ``table=text`` replaces ``table.csv`` (``toml=`` the
    instance.toml), ``table=None`` leaves the file out. Returns the folder."""

    def make(name: str = "tiny", **replace: str | None) -> Path:
        files = dict(TINY_FILES)
        for key, text in replace.items():
            file = "instance.toml" if key == "toml" else f"{key}.csv"
            if text is None:
                files.pop(file, None)
            else:
                files[file] = text
        folder = tmp_path / name
        folder.mkdir(parents=True)
        for file, text in files.items():
            (folder / file).write_text(text, encoding="utf-8")
        return folder

    return make


@pytest.fixture
def tiny_folder(make_instance_folder: MakeFolder) -> Path:
    """The sound tiny instance as a folder in tmp_path."""
    return make_instance_folder()


@pytest.fixture
def tiny_instance_files() -> dict[str, str]:
    """File name -> text of the tiny instance (a copy; edit freely)."""
    return dict(TINY_FILES)


# ---------------------------------------------------------------- shipped example (solve tests)

REPO = Path(__file__).resolve().parents[1]
EURASIA = REPO / "instances" / "eurasia"


@pytest.fixture(scope="session")
def eurasia():
    """The shipped Eurasia example, validated."""
    from allocator.instance.validate import read_instance

    return read_instance(EURASIA)


# ---------------------------------------------------------------- generated instances (batches)

N_INSTANCES = 6


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of small generated instances g0..g5 (about a second each to solve)."""
    from allocator.instance.generate import generate_instance
    from allocator.instance.io import write_instance

    folder = tmp_path_factory.mktemp("batch-instances")
    for i in range(N_INSTANCES):
        write_instance(generate_instance(nodes=30, lots=60, seed=i), folder / f"g{i}")
    return folder
