"""End-to-end measurement with the numpy reference learner: planted answers, executors,
resume, failures, interruption and the CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.errors import HeteroError, HeteroWarning, LearnerError
from hetero.learners import LEARNERS, Learner, ReferenceLearner
from hetero.matrix import HeterogeneityMatrix
from hetero.measure.driver import measure, plan_runs
from hetero.measure.store import RunStore
from hetero.measure.synthetic import planted_suite

TINY = {"hidden": 8, "max_epochs": 8, "patience": 3}
runner = CliRunner()


def _invoke(args):
    from hetero.cli.main import app

    return runner.invoke(app, [str(a) for a in args])


def _tiny_suite(seed: int = 0, n_noise: int = 1, per_group: int = 2):
    return planted_suite(1, per_group, n_noise=n_noise, n_samples=160, width=6, latent=3,
                         noise=0.5, seed=seed)[0]  # fmt: skip


def _write_yaml_suite(tmp_path: Path, seed: int = 0) -> Path:
    suite = _tiny_suite(seed)
    task = suite.tasks[0]
    np.savez(tmp_path / "planted.npz", y=task.data.y, train_idx=task.data.train_idx,
             val_idx=task.data.val_idx, test_idx=task.data.test_idx, **task.data.arrays)  # fmt: skip
    mods = "\n".join(
        f"      - {{name: {m}, kind: table, positional_axes: 0}}" for m in task.data.arrays
    )
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"name: planted\ntasks:\n  - name: planted\n    data: planted.npz\n"
        f"    target: multiclass\n    modalities:\n{mods}\n"
    )
    return path


# -- planted structure ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_transforms_are_closer_to_each_other_than_to_noise(seed):
    suite, groups = planted_suite(1, 3, n_noise=1, n_samples=240, width=12, latent=3,
                                  noise=0.5, seed=seed)  # fmt: skip
    res = measure(suite, learner="reference", learner_config={"hidden": 8, "max_epochs": 20},
                  estimator="frozen", seeds=2, interactions=False, stability_boot=0)  # fmt: skip
    d = res.modality.distance
    labels = list(d.labels)
    transforms = [lab for lab in labels if groups[lab] == 0]
    outsider = next(lab for lab in labels if groups[lab] == -1)
    idx = [labels.index(lab) for lab in transforms]
    o = labels.index(outsider)
    within = max(d.values[i, j] for i in idx for j in idx if i != j)
    to_outsider = min(d.values[i, o] for i in idx)
    assert within < to_outsider
    # the plan puts the outsider alone when asked for two groups
    assert [outsider] in res.plan.unimodal_groups


# -- executors --------------------------------------------------------------------------------
def test_serial_and_process_pool_give_identical_results(tmp_path):
    suite = _tiny_suite()
    kw = dict(learner="reference", learner_config=TINY, estimator="frozen", seeds=1,
              baseline_seeds=1, interactions=False, figures=False, stability_boot=0)  # fmt: skip
    a = measure(suite, tmp_path / "serial", executor="serial", **kw)
    b = measure(suite, tmp_path / "pool", executor="process", workers=2, **kw)
    np.testing.assert_array_equal(a.modality.transfer.values, b.modality.transfer.values)
    with (
        RunStore(tmp_path / "serial" / "runs.sqlite") as s1,
        RunStore(tmp_path / "pool" / "runs.sqlite") as s2,
    ):
        r1 = {r.key: (r.val_loss, r.curve) for r in s1.records()}
        r2 = {r.key: (r.val_loss, r.curve) for r in s2.records()}
    assert r1 == r2 and b.stats.trained == len(r2)


class _Unregistered(ReferenceLearner):
    name = "unregistered-test"


def test_unregistered_learner_instance_runs_in_worker_processes(tmp_path):
    suite = _tiny_suite(n_noise=0)
    res = measure(suite, tmp_path, learner=_Unregistered(**TINY), estimator="finetune",
                  seeds=1, baseline_seeds=1, executor="process", workers=2,
                  interactions=False, figures=False, stability_boot=0)  # fmt: skip
    assert res.stats.trained == 4 and res.stats.failed == 0 and res.learner == "unregistered-test"
    with RunStore(tmp_path / "runs.sqlite") as store:
        assert {r.versions["learner_class"] for r in store.records()} == {
            f"{__name__}._Unregistered"
        }


@pytest.mark.slow
def test_dask_local_cluster_and_scheduler_address_with_two_workers(tmp_path):
    distributed = pytest.importorskip("distributed")
    suite = _tiny_suite(n_noise=0)
    kw = dict(learner="reference", learner_config=TINY, estimator="finetune", seeds=1,
              baseline_seeds=1, interactions=False, figures=False, stability_boot=0)  # fmt: skip
    ref = measure(suite, tmp_path / "serial", executor="serial", **kw)
    local = measure(suite, tmp_path / "dask", executor="dask", workers=2, **kw)
    assert local.stats.trained == 2 + 2 and local.stats.failed == 0
    np.testing.assert_array_equal(local.modality.transfer.values, ref.modality.transfer.values)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:  # fmt: skip
        remote = measure(suite, tmp_path / "remote", executor="dask",
                         scheduler=cluster.scheduler_address, **kw)  # fmt: skip
    assert remote.stats.trained == 4
    np.testing.assert_array_equal(remote.modality.transfer.values, ref.modality.transfer.values)
    with pytest.raises(HeteroError, match="--scheduler needs --executor dask"):
        measure(suite, tmp_path / "x", executor="process", scheduler="tcp://127.0.0.1:1", **kw)


# -- resume ----------------------------------------------------------------------------------
def test_rerun_trains_only_what_is_missing(tmp_path):
    suite = _tiny_suite()
    kw = dict(learner="reference", learner_config=TINY, seeds=1, baseline_seeds=2,
              estimator="finetune", interactions=False, figures=False, stability_boot=0)  # fmt: skip
    first = measure(suite, tmp_path, **kw)
    again = measure(suite, tmp_path, **kw)
    assert first.stats.trained > 0 and again.stats.trained == 0
    assert again.stats.cached == first.stats.trained
    np.testing.assert_array_equal(again.modality.transfer.values, first.modality.transfer.values)
    more = measure(suite, tmp_path, **{**kw, "seeds": 2, "baseline_seeds": 3})
    # one more baseline seed per unit (3 units) + a second transfer seed per pair (6 pairs)
    assert more.stats.trained == 3 + 6 and more.stats.cached == first.stats.trained


def test_adding_a_modality_trains_only_the_new_runs(tmp_path):
    from hetero.suite import Suite, Task

    task = _tiny_suite(n_noise=1).tasks[0]  # modalities g0m0, g0m1, noise0
    d = task.data

    def suite_of(names):
        return Suite([Task.from_arrays(
            task.name, {m: d.arrays[m] for m in names}, d.y, target="multiclass",
            modalities=[{"name": m, "positional_axes": 0} for m in names],
            train_idx=d.train_idx, val_idx=d.val_idx, test_idx=d.test_idx,
        )], name="grow")  # fmt: skip

    kw = dict(learner="reference", learner_config=TINY, estimator="finetune", seeds=1,
              baseline_seeds=2, interactions=False, figures=False, stability_boot=0)  # fmt: skip
    first = measure(suite_of(["g0m0", "g0m1"]), tmp_path, **kw)
    grown = measure(suite_of(["g0m0", "g0m1", "noise0"]), tmp_path, **kw)
    # new: 2 scratch seeds of noise0 + transfers noise0 <-> the two old units (4 pairs x 1 seed)
    assert grown.stats.cached == first.stats.trained and grown.stats.trained == 2 + 4


def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc; empty elsewhere)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_resume_after_sigkill_trains_nothing_twice(tmp_path):
    suite_path = _write_yaml_suite(tmp_path)
    out = tmp_path / "killed"
    args = [sys.executable, "-c", "from hetero.cli.main import main; main()", "measure", str(suite_path), "-o", str(out),
            "--learner", "reference", "-L", "hidden=8", "-L", "max_epochs=300", "-L", "patience=300",
            "--seeds", "2",
            "--no-interactions", "--no-figures", "--quiet", "--estimator", "finetune"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = out / "runs.sqlite"
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                stored = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                con.close()
            except sqlite3.Error:
                stored = 0
            if stored >= 5:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "measurement finished before it could be killed"
    workers = _children(proc.pid)
    assert workers  # the default process executor runs the measurement in worker processes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10  # workers notice that the driver is gone and exit
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned workers"
    assert not (out / "modality.json").exists()
    with RunStore(db) as store:
        before = {r.key: r.finished for r in store.records()}
    assert len(before) >= 5
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with RunStore(db) as store:
        after = {r.key: r.finished for r in store.records()}
    assert all(after[k] == v for k, v in before.items())  # nothing trained twice
    full = tmp_path / "full"
    args_full = [a if a != str(out) else str(full) for a in args]
    subprocess.run(args_full, env=env, check=True, capture_output=True, timeout=120)
    for name in ("modality_transfer.json", "modality.json"):
        a = HeterogeneityMatrix.read(out / name)
        b = HeterogeneityMatrix.read(full / name)
        np.testing.assert_array_equal(a.values, b.values)


# -- failures, interruption ------------------------------------------------------------------
class _Flaky(ReferenceLearner):
    """Fails every run of unit ``bad`` (and the first attempt of every other scratch run)."""

    name = "flaky-test"

    def __init__(self, bad: str = "", marker: str = "", **kw):
        super().__init__(**kw)
        self.bad = bad
        self.marker = marker

    def fit(self, task, unit, **kw):
        if unit.label == self.bad:
            raise RuntimeError("planted failure")
        if self.marker and kw.get("init_state") is None:
            flag = Path(self.marker) / unit.label.replace("/", "_")
            if not flag.exists():
                flag.write_text("x")
                raise RuntimeError("transient failure")
        return super().fit(task, unit, **kw)


@pytest.fixture
def flaky():
    with LEARNERS.registered("flaky-test", _Flaky):
        yield


def test_failed_runs_are_retried_recorded_and_others_go_on(tmp_path, flaky):
    suite = _tiny_suite()
    labels = [u.label for u in suite.units()]
    (tmp_path / "m").mkdir()
    cfg = {**TINY, "bad": labels[0], "marker": str(tmp_path / "m")}
    res = measure(suite, tmp_path / "out", learner="flaky-test", learner_config=cfg,
                  estimator="finetune", seeds=1, baseline_seeds=1, retries=2,
                  interactions=False, figures=False, stability_boot=0)  # fmt: skip
    with RunStore(tmp_path / "out" / "runs.sqlite") as store:
        failed = store.records(status="failed")
        ok = store.records(status="ok")
    # the scratch run of the bad unit and the two transfers into it fail for good
    assert {r.unit for r in failed} == {labels[0]} and len(failed) == 3
    assert all(r.attempts == 3 and "planted failure" in r.error for r in failed)
    # transient failure: one retry (scratch bodies retrained by the quality gate, the noise
    # unit's, have one attempt more per reseed)
    assert all(r.attempts == 2 + r.info["gate"]["reseed"] for r in ok if r.kind == "scratch")
    assert res.stats.skipped == 2  # transfers from the failed source
    t = res.modality.transfer.values
    assert (
        np.isnan(t[0, 1:]).all()
        and np.isnan(t[1:, 0]).all()
        and np.isfinite(t[1:, 1:][~np.eye(2, dtype=bool)]).all()
    )
    assert (
        res.plan is None and json.loads((tmp_path / "out" / "measure.json").read_text())["failures"]
    )


def test_ctrl_c_keeps_finished_runs_and_writes_no_result(tmp_path):
    suite = _tiny_suite()
    seen = []

    def interrupt(ev):
        if ev.status == "ok":  # finished and stored (not a retry)
            seen.append(ev)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure(suite, tmp_path, learner="reference", learner_config=TINY, seeds=1,
                interactions=False, on_event=interrupt)  # fmt: skip
    with RunStore(tmp_path / "runs.sqlite") as store:
        assert len(store) == 3
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("runs.sqlite"))
    assert left == [".hetero.lock"]  # the (released) lock file, no result file


def test_a_command_failing_before_it_writes_leaves_no_folder_behind(tmp_path):
    from hetero._io import exclusive_folder

    for folder, keep in ((tmp_path / "empty", False), (tmp_path / "used", True)):
        folder.mkdir()
        if keep:
            (folder / "rows.csv").write_text("seed\n0\n")
        with pytest.raises(HeteroError, match="boom"), exclusive_folder(folder, "hetero test"):
            raise HeteroError("boom")
        assert folder.exists() == keep
    (tmp_path / "ok").mkdir()
    with exclusive_folder(tmp_path / "ok", "hetero test"):
        pass
    assert (tmp_path / "ok").is_dir()  # a command that succeeds keeps its folder


# -- errors ----------------------------------------------------------------------------------
def test_errors_unknown_learner_no_interactions_bad_suite_unwritable(tmp_path):
    suite = _tiny_suite()
    with pytest.raises(LearnerError, match="unknown learner 'nope'"):
        measure(suite, tmp_path / "a", learner="nope")

    class NoInteractions(ReferenceLearner):
        name = "no-interactions-test"
        supports_interactions = False

    with LEARNERS.registered("no-interactions-test", NoInteractions):
        with pytest.raises(LearnerError, match="does not support interaction units"):
            measure(suite, tmp_path / "b", learner="no-interactions-test", interactions=True)
    assert not (tmp_path / "b").exists()
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    with pytest.raises(HeteroError, match="output directory is not writable"):
        measure(suite, blocker / "out", learner="reference")
    with pytest.raises(
        HeteroError, match=r"unknown executor 'nope' \(valid: serial, process, dask\)"
    ):
        measure(suite, tmp_path / "d", executor="nope")
    with pytest.raises(HeteroError, match="seeds: expected a positive integer or 'auto'"):
        measure(suite, tmp_path / "d", seeds="many")
    assert not (tmp_path / "d").exists()
    with pytest.raises(HeteroError, match="suite file not found"):
        measure(tmp_path / "missing.yaml", tmp_path / "c")
    assert not (tmp_path / "c").exists()
    assert not issubclass(Learner, ReferenceLearner)


def test_cli_errors_exit_2_with_one_line(tmp_path):
    suite_path = _write_yaml_suite(tmp_path)
    r = _invoke(["measure", str(suite_path), "-o", str(tmp_path / "o"),
                            "--learner", "nope"])  # fmt: skip
    assert r.exit_code == 2 and "unknown learner 'nope'" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tasks:\n  - name: t\n    data: missing.npz\n    target: multiclass\n"
        "    modalities: [{name: a}]\n"
    )
    r = _invoke(["measure", str(bad), "-o", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "missing.npz" in r.output and not (tmp_path / "o2").exists()
    r = _invoke(["runs", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no run store" in r.output
    # a plan size that cannot be cut fails before anything trains, not after
    n_units = len(_tiny_suite().units())
    r = _invoke(["measure", str(suite_path), "-o", str(tmp_path / "o3"), "--learner",
                 "reference", "--unimodal-groups", str(n_units + 1)])  # fmt: skip
    assert r.exit_code == 2 and not (tmp_path / "o3").exists()
    assert (
        f"unimodal_groups: expected between 1 and the number of modality units ({n_units}), got {n_units + 1}"
        in r.output
    )
    with pytest.warns(HeteroWarning, match="crossmodal_groups=3 is ignored"):
        plan_runs(_tiny_suite(), learner="reference", interactions=False, crossmodal_groups=3)


# -- CLI end to end --------------------------------------------------------------------------
def test_cli_measure_writes_every_output_and_runs_lists_them(tmp_path):
    suite_path = _write_yaml_suite(tmp_path)
    out = tmp_path / "out"
    r = _invoke(["measure", str(suite_path), "-o", str(out), "--learner", "reference",
                            "-L", "hidden=8", "-L", "max_epochs=6", "--seeds", "2",
                            "--retest", "--unimodal-groups", "2", "--crossmodal-groups", "2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    for name in ("modality.json", "modality_transfer.json", "interaction.json",
                 "interaction_transfer.json", "check.json", "plan.json", "runs.sqlite",
                 "measure.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert any((out / "figures").glob("*.png"))
    t = HeterogeneityMatrix.read(out / "modality_transfer.json")
    assert t.count is not None and t.std is not None and "se" in t.provenance
    d = HeterogeneityMatrix.read(out / "modality.json")
    np.testing.assert_allclose(d.values, d.values.T)
    summary = json.loads((out / "measure.json").read_text())
    assert summary["levels"]["modality"]["retest"]["halves"]["seeds"] == [[0], [1]]
    assert "reliab" in summary["reliability"]
    plan = json.loads((out / "plan.json").read_text())
    assert len(plan["unimodal"]["groups"]) == 2 and len(plan["crossmodal"]["groups"]) == 2
    assert "runs:" in r.output and "reliability:" in r.output

    listed = _invoke(["runs", str(out)])
    assert listed.exit_code == 0 and "scratch" in listed.output
    exported = _invoke(["runs", str(out), "--csv"])
    lines = exported.output.strip().splitlines()
    with RunStore(out / "runs.sqlite") as store:
        assert len(lines) == len(store) + 1
    assert lines[0].startswith("key,status,kind")
    written = _invoke(["runs", str(out), "--csv", "-o", str(tmp_path / "runs.csv")])
    assert written.exit_code == 0
    assert (tmp_path / "runs.csv").read_text().strip().splitlines() == lines


def test_sampled_design_completes_the_rest(tmp_path):
    suite = planted_suite(2, 4, n_noise=0, n_samples=160, width=6, latent=3, seed=0)[0]
    n = len(suite.units())
    res = measure(suite, learner="reference", learner_config=TINY, estimator="frozen", seeds=1,
                  baseline_seeds=1, fraction=0.5, interactions=False, stability_boot=0)  # fmt: skip
    info = res.summary["levels"]["modality"]
    assert 0 < info["measured_pairs"] < n * (n - 1)
    assert info["entries_completed"] > 0
    assert np.isfinite(res.modality.distance.values).all()
    assert res.stats.trained == n + n + info["measured_pairs"]  # scratch + self + transfers
    again = measure(suite, learner="reference", learner_config=TINY, estimator="frozen",
                    seeds=1, baseline_seeds=1, budget=30, interactions=False,
                    stability_boot=0)  # fmt: skip
    assert again.summary["levels"]["modality"]["measured_pairs"] == 30
    with pytest.raises(HeteroError, match="either fraction or budget"):
        measure(suite, fraction=0.5, budget=30, learner="reference")


def test_auto_seeds_add_runs_where_entries_are_undecided():
    suite = _tiny_suite()
    res = measure(suite, learner="reference", learner_config=TINY, estimator="finetune",
                  seeds="auto", interactions=False, max_runs=40, stability_boot=0)  # fmt: skip
    counts = res.modality.estimate.count
    assert counts.max() > 2  # seeds added beyond the initial two
    assert res.stats.trained >= 3 * 4 + 6 * 2
    decided = measure(suite, learner="reference", learner_config=TINY, estimator="finetune",
                      seeds="auto", interactions=False, max_runs=40, auto_tolerance=10.0,
                      stability_boot=0)  # fmt: skip
    assert decided.modality.estimate.count.max() == 2 and decided.stats.trained == 3 * 4 + 6 * 2


@pytest.mark.slow
def test_serial_and_process_pool_identical_with_the_torch_probe(tmp_path):
    """The serial executor runs each fit with a worker's single thread (it once used the
    caller's two threads with the HighMMT probe and differed by up to 6e-4 in T)."""
    pytest.importorskip("torch")
    suite = _tiny_suite(n_noise=0)
    cfg = {"num_latents": 4, "latent_dim": 16, "latent_heads": 2, "dim_head": 8, "max_epochs": 2}
    kw = dict(learner="highmmt", learner_config=cfg, estimator="finetune", seeds=1,
              baseline_seeds=1, interactions=False, figures=False, stability_boot=0)  # fmt: skip
    import torch

    threads = torch.get_num_threads()
    a = measure(suite, tmp_path / "serial", executor="serial", **kw)
    assert torch.get_num_threads() == threads  # the caller's setting is restored
    b = measure(suite, tmp_path / "pool", executor="process", workers=2, **kw)
    np.testing.assert_array_equal(a.modality.transfer.values, b.modality.transfer.values)
