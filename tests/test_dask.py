"""allocator batch through a real Dask cluster: a LocalCluster of 2 worker processes, reached by
its tcp:// address exactly as a remote scheduler would be; the same ledger and plans as local."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.batch import ledger
from allocator.cli import main
from allocator.instance.generate import generate_instance
from allocator.instance.io import write_instance
from allocator.results import read_plan

distributed = pytest.importorskip("distributed")

KEYS = ("instance_sha256", "model", "options_json", "status", "termination")


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("dask-instances")
    paths = [folder / f"d{i}" for i in range(3)]
    for i, p in enumerate(paths):
        write_instance(generate_instance(nodes=30, lots=60, seed=10 + i), p)
    return paths


def _by_name(out: Path) -> dict[str, dict]:
    return {Path(r["instance_path"]).name: r for r in ledger.rows(out)}


@pytest.mark.slow
def test_dask_cluster_gives_the_local_ledger_and_plans(
    tmp_path: Path, instances: list[Path]
) -> None:
    local, remote = tmp_path / "local", tmp_path / "dask"
    args = [str(p) for p in instances]
    assert (
        main(["batch", *args, "--out", str(local), "--workers", "2", "--threads", "1", "-q"]) == 0
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        code = main(["batch", *args, "--out", str(remote), "--scheduler", address, "-q"])
        assert code == 0
        # the cluster ran the jobs: two worker processes, one HiGHS thread each by default
        with distributed.Client(address) as client:
            assert len(client.nthreads()) == 2
        # resume works the same way through the cluster
        assert main(["batch", *args, "--out", str(remote), "--scheduler", address, "-q"]) == 0
    a, b = _by_name(local), _by_name(remote)
    assert set(a) == set(b) == {"d0", "d1", "d2"}
    for name in a:
        assert {k: a[name][k] for k in KEYS} == {k: b[name][k] for k in KEYS}
        assert b[name]["objective"] == pytest.approx(a[name]["objective"], rel=1e-9)
        assert b[name]["executor"] == "dask"
        assert b[name]["threads"] == 1
        assert b[name]["wall_seconds"] >= b[name]["total_seconds"]
        pa, pb = read_plan(local / name), read_plan(remote / name)
        assert pb.objective == pytest.approx(pa.objective, rel=1e-9)
        assert pb.legs["flow_teu"].sum() == pytest.approx(pa.legs["flow_teu"].sum(), rel=1e-6)


@pytest.mark.slow
def test_in_process_local_cluster(tmp_path: Path, instances: list[Path]) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                "batch",
                str(instances[0]),
                "--out",
                str(out),
                "--scheduler",
                "dask",
                "--workers",
                "1",
                "-q",
            ]
        )
        == 0
    )
    (row,) = ledger.rows(out)
    assert row["status"] == "succeeded"
    assert row["executor"] == "dask"
    assert read_plan(out / "d0").objective == pytest.approx(row["objective"])
