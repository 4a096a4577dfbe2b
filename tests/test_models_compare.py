"""hetero compare: paired seeds, resume, a planted suite where one grouping wins, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from hetero.compare import Candidate, random_plans_like
from hetero.errors import HeteroError
from hetero.plan import GroupingPlan
from hetero.suite import Modality, Suite, Task
from hetero_models.compare import CompareConfig, compare_plans
from hetero_models.grouping import GroupedBlock, GroupedModel
from hetero_models.registry import MODELS, register_model

torch.set_num_threads(1)


class _Linear(nn.Module):
    """Items (B, d) -> logits (B, 2) through one shared linear map (no per-task head)."""

    def __init__(self, d: int):
        super().__init__()
        self.linear = nn.Linear(d, 2)

    def forward(self, items):
        return [self.linear(x) for x in items]


class PlantedLinear(GroupedModel):
    """Every unit's logits come straight from its group's linear map: units whose rules
    conflict cannot share one."""

    def __init__(self, spec, **hparams):
        super().__init__()
        self.spec, self.hparams = spec, dict(hparams)
        d = spec.task(spec.task_names[0]).modalities[0].channels
        self.unimodal = GroupedBlock(_Linear(d), "unimodal")

    def unit_labels(self, kind):
        if kind != "unimodal":
            return []
        return [f"{t}/{m.name}" for t in self.spec.task_names for m in self.spec.task(t).modalities]

    def forward(self, batches):
        labels = [f"{t}/x" for t in batches]
        outs = self.unimodal(labels, [inputs["x"] for inputs in batches.values()])
        return dict(zip(batches, outs, strict=True))


@pytest.fixture(scope="module", autouse=True)
def _planted_model():
    register_model("planted_linear", PlantedLinear, overwrite=True)
    yield
    MODELS.unregister("planted_linear")


def planted_suite(n: int = 160, d: int = 4) -> Suite:
    """a and b follow the rule y = [w.x > 0]; c the opposite rule: {a, b}, {c} is the
    grouping that lets every task be solved, sharing c with either twin cannot."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=d)
    tasks = []
    for i, (name, sign) in enumerate((("a", 1), ("b", 1), ("c", -1))):
        x = np.random.default_rng(10 + i).normal(size=(n, d)).astype(np.float32)
        y = (sign * (x @ w) > 0).astype(int)
        tasks.append(
            Task.from_arrays(
                name,
                {"x": x},
                y,
                target="multiclass",
                modalities=[Modality("x", kind="table", positional_axes=0)],
                split={"val": 0.25, "test": 0.25, "seed": 0},
            )
        )
    return Suite(tasks, name="planted")


SUITE = planted_suite()
GOOD = GroupingPlan([["a/x", "b/x"], ["c/x"]])
# the planted margins (lr 0.05, 2 + 12 epochs) were set for a constant rate and one pass per
# task: these tests are about the comparison, not the trainer's defaults
CONFIG = CompareConfig(
    model="planted_linear",
    pretrain_epochs=2,
    finetune_epochs=12,
    lr=0.05,
    task_sampling="proportional",
    lr_schedule="constant",
)


@pytest.mark.slow
def test_planted_grouping_ranks_first_with_an_interval_above_zero(tmp_path):
    randoms = random_plans_like(GOOD, 2, seed=0)  # {a,c},{b} and {b,c},{a}
    candidates = [
        Candidate("good", "plan", GOOD),
        Candidate("share-all", "share_all", GroupingPlan.share_all(SUITE)),
        *[Candidate(f"random-{i}", "random", p) for i, p in enumerate(randoms)],
    ]
    result = compare_plans(SUITE, candidates, seeds=3, config=CONFIG, device="cpu")
    diffs = result.differences()
    assert diffs["share-all"].lo > 0.1, diffs
    assert diffs["random (median)"].lo > 0.1, diffs
    assert result.reference_rank()["rank"] == 1
    assert "good beats share-all" in result.verdicts()["share-all"]


def test_paired_seeds_share_pretraining_and_batches_and_resume(tmp_path):
    events: list[str] = []
    twins = [Candidate("one", "plan", GOOD), Candidate("two", "plan", GOOD)]
    first = compare_plans(
        SUITE, twins, seeds=2, config=CONFIG, store=tmp_path, device="cpu", on_event=events.append
    )
    # the same plan under two names, same seed: identical pre-training and batch order
    by = {(r["candidate"], r["seed"], r["task"]): r["value"] for r in first.rows}
    for seed in (0, 1):
        for task in "abc":
            assert by[("one", seed, task)] == by[("two", seed, task)]
    assert sum("pre-trained" in e for e in events) == 2  # once per seed, not per candidate
    assert sorted(p.name for p in (tmp_path / "pretrain").iterdir()) == ["seed-0", "seed-1"]
    # how long the pre-training ran is kept (early stopping can end it before the cap)
    info = json.loads((tmp_path / "pretrain" / "seed-0" / "key.json").read_text())
    assert 1 <= info["best_epoch"] <= info["epochs_run"] <= CONFIG.pretrain_epochs
    said = "seed 0: pre-trained in"
    assert any(said in e and f"({info['epochs_run']} epochs, best {info['best_epoch']})" in e
               for e in events)  # fmt: skip
    # resume: nothing is trained again, and a third seed reuses the first two
    events.clear()
    again = compare_plans(
        SUITE, twins, seeds=3, config=CONFIG, store=tmp_path, device="cpu", on_event=events.append
    )
    assert sum("pre-trained" in e for e in events) == 1
    assert [e for e in events if "score" in e and "seed 0" in e] == []
    assert [r for r in again.rows if r["seed"] < 2] == first.rows
    # a changed configuration is trained again, not reused
    events.clear()
    changed = CompareConfig(**{**CONFIG.__dict__, "finetune_epochs": 3})
    compare_plans(
        SUITE,
        twins[:1],
        seeds=1,
        config=changed,
        store=tmp_path,
        device="cpu",
        on_event=events.append,
    )
    assert any("one score" in e for e in events)


def test_later_fields_enter_the_keys_only_when_they_differ_from_earlier_runs(tmp_path):
    from dataclasses import asdict

    from hetero_models.compare import _key, _run_key

    cand = Candidate("one", "plan", GOOD)
    later = {"task_sampling": "proportional", "lr_schedule": "constant"}
    old = CompareConfig(**{**CONFIG.__dict__, **later})  # the settings before the fields
    before = {k: v for k, v in asdict(CONFIG).items() if k not in later}
    # runs stored before the fields existed keep their keys
    assert _run_key("d", old, cand, 0) == _key("run", "d", before, cand.spec(), 0)
    balanced = CompareConfig(**{**old.__dict__, "task_sampling": "balanced"})
    cosine = CompareConfig(**{**old.__dict__, "lr_schedule": "cosine"})
    new = CompareConfig(**{**old.__dict__, "task_sampling": "balanced", "lr_schedule": "cosine"})
    assert (CompareConfig().task_sampling, CompareConfig().lr_schedule) == ("balanced", "cosine")
    keys = {_run_key("d", c, cand, 0) for c in (old, balanced, cosine, new)}
    assert len(keys) == 4
    assert balanced.trainer_kwargs()["task_sampling"] == "balanced"
    assert cosine.trainer_kwargs()["lr_schedule"] == "cosine"
    events: list[str] = []
    for config in (old, balanced, cosine):
        compare_plans(SUITE, [cand], seeds=1, config=config, store=tmp_path, device="cpu",
                      on_event=events.append)  # fmt: skip
    assert sum("pre-trained" in e for e in events) == 3  # not reused across settings


def test_share_none_trains_independent_models():
    result = compare_plans(
        SUITE,
        [Candidate("good", "plan", GOOD), Candidate("none", "share_none")],
        seeds=1,
        config=CONFIG,
        device="cpu",
    )
    none = [r for r in result.rows if r["candidate"] == "none"]
    assert {r["task"] for r in none} == {"a", "b", "c"}
    # three models of one linear map each: 3 x (4 x 2 + 2) parameters
    assert {r["parameters"] for r in none} == {30}
    assert all(r["epochs_run"] == 14 for r in none)


def test_auto_seeds_stop_when_resolved_or_at_the_cap():
    same = [Candidate("p", "plan", GOOD), Candidate("q", "plan", GOOD)]
    r = compare_plans(
        SUITE, same, seeds="auto", min_seeds=2, max_seeds=4, config=CONFIG, device="cpu"
    )
    # identical candidates: every difference is exactly 0, resolved at the first check
    assert r.seeds == [0, 1] and "resolved after 2 seeds" in r.stop_reason


def test_errors():
    c = [Candidate("good", "plan", GOOD)]
    with pytest.raises(HeteroError, match="reference 'x' is not a candidate"):
        compare_plans(SUITE, c, reference="x", config=CONFIG)
    with pytest.raises(HeteroError, match="used twice"):
        compare_plans(SUITE, c + c, config=CONFIG)
    with pytest.raises(HeteroError, match="candidate 'bad'"):
        compare_plans(
            SUITE, [Candidate("bad", "plan", GroupingPlan([["a/x"], ["zz/x"]]))], config=CONFIG
        )
    with pytest.raises(HeteroError, match="seeds: expected"):
        compare_plans(SUITE, c, seeds=0, config=CONFIG)


def _cli(args):
    import typer
    from typer.testing import CliRunner

    from hetero_models.cli import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer in multi-command mode
        pass

    return CliRunner().invoke(app, args)


@pytest.mark.slow
def test_cli_compare_writes_outputs_and_workers_do_not_change_numbers(tmp_path):
    from tests.test_models_trainer import PLAN, _write_suite_yaml

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    PLAN.write(tmp_path / "plan.json")
    common = [
        "compare", str(yaml_path), "--plan", f"mine={tmp_path / 'plan.json'}", "--share-all",
        "--share-none", "--random", "1", "--seeds", "2", "--preset", "small",
        "--pretrain-epochs", "1", "--finetune-epochs", "1", "--batch-size", "16",
        "--device", "cpu", "-q",
    ]  # fmt: skip
    res = _cli([*common, "-o", str(tmp_path / "one")])
    assert res.exit_code == 0, res.output
    assert "mine vs share-all" in res.output or "mine beats share-all" in res.output
    assert "ranks" in res.output and "among the random plans" in res.output
    out = tmp_path / "one"
    for name in (
        "compare.json",
        "compare.csv",
        "figures/forest.png",
        "figures/score_parameters.png",
    ):
        assert (out / name).is_file(), name
    from hetero.compare import read_compare

    one = read_compare(out)
    assert [c["name"] for c in one.candidates] == ["mine", "share-all", "share-none", "random-1"]
    assert one.seeds == [0, 1] and len(one.rows) == 4 * 2 * 3
    res = _cli([*common, "--workers", "2", "-o", str(tmp_path / "two")])
    assert res.exit_code == 0, res.output
    two = read_compare(tmp_path / "two")
    assert [(r["candidate"], r["seed"], r["task"], r["value"]) for r in two.rows] == [
        (r["candidate"], r["seed"], r["task"], r["value"]) for r in one.rows
    ]


def test_cli_compare_errors(tmp_path):
    from tests.test_models_trainer import PLAN, _write_suite_yaml

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    PLAN.write(tmp_path / "plan.json")
    out = ["-o", str(tmp_path / "out")]
    cases = [
        (["--share-all"], "give at least two candidates"),
        (["--share-all", "--random", "2"], "--random: needs a --plan"),
        (["--share-all", "--share-none", "--seeds", "many"], "--seeds: expected a positive integer or 'auto'"),
        ([f"--plan=a={tmp_path / 'missing.json'}", "--share-all"], "missing.json"),
        ([f"--plan=a={tmp_path / 'plan.json'}", f"--plan=a={tmp_path / 'plan.json'}"],
         "'a' is used twice"),
        (["--share-all", "--share-none", "--hparam", "depth"], "--hparam 'depth': expected KEY=VALUE"),
        (["--share-all", "--share-none", "--hparam", "bogus=1"], "unknown HighMMT hyperparameter"),
        (["--share-all", "--share-none", "--hparam", "preset=small"], "use --preset"),
    ]  # fmt: skip
    for extra, message in cases:
        res = _cli(["compare", str(yaml_path), *extra, *out])
        assert res.exit_code == 2, (extra, res.output)
        assert message in res.output, (extra, res.output)
    assert not (tmp_path / "out").exists()


def test_cli_compare_passes_hparams_to_every_candidate(tmp_path):
    from hetero.compare import read_compare
    from hetero_models import load_model
    from tests.test_models_trainer import _write_suite_yaml

    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    yaml_path = _write_suite_yaml(suite_dir)
    res = _cli(
        ["compare", str(yaml_path), "--share-all", "--share-none", "--seeds", "2",
         "--preset", "small", "--hparam", "unimodal=False", "--hparam", "latent_dim=16",
         "--pretrain-epochs", "1", "--finetune-epochs", "1", "--device", "cpu", "-q",
         "-o", str(tmp_path / "out")]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = read_compare(tmp_path / "out")
    assert result.config["hparams"] == {"preset": "small", "unimodal": False, "latent_dim": 16}
    net = load_model(tmp_path / "out" / "pretrain" / "seed-0")
    assert net.hparams["unimodal"] is False and net.hparams["latent_dim"] == 16
