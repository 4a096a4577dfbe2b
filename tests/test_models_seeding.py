"""Seeds, not global state: the probe and the two-stage trainer are deterministic per seed
(twice in a row and in a fresh process) and leave torch's global RNG and threads alone."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import torch

from hetero.plan import GroupingPlan
from hetero.suite import Unit
from hetero_models.probes import HighMMTProbe
from hetero_models.trainer import seeded_init, train_two_stage
from tests.conftest import REPO_ROOT
from tests.test_models_helpers import TINY, make_suite

torch.set_num_threads(1)

SMALL = {"num_latents": 4, "latent_dim": 16, "latent_heads": 2, "dim_head": 8, "max_epochs": 3}


def _digest(state: dict) -> str:
    """Hash of a state dict (tensors or arrays), order-independent of dict insertion."""
    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        h.update(key.encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _probe_run(seed: int) -> dict:
    suite = make_suite(n=64)
    res = HighMMTProbe(**SMALL).fit(
        suite.task("beta"), Unit("beta", ("vec",)), seed=seed, return_state=True
    )
    return {"curve": res.curve, "state": _digest(res.state)}


def _two_stage_run(seed: int) -> dict:
    suite = make_suite(n=48)
    net, history = train_two_stage(
        suite,
        GroupingPlan.share_none(suite),
        hparams=TINY,
        pretrain_epochs=1,
        finetune_epochs=1,
        seed=seed,
        device="cpu",
    )
    return {"loss": [row["train_loss"] for row in history], "state": _digest(net.state_dict())}


def test_seeded_init_depends_on_the_seed_only_and_restores_the_global_rng():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded_init(5):
        a = torch.nn.Linear(3, 3)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.rand(7)  # the caller's stream moves on; the next build must not care
    with seeded_init(5):
        b = torch.nn.Linear(3, 3)
    with seeded_init(6):
        c = torch.nn.Linear(3, 3)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, c.weight)


def test_same_seed_same_result_twice_in_a_row_and_in_a_fresh_process():
    torch.manual_seed(99)
    rng, threads = torch.random.get_rng_state(), torch.get_num_threads()
    probe, two_stage = _probe_run(4), _two_stage_run(3)
    # neither fit seeded nor advanced the global generator, nor changed the thread count
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert torch.get_num_threads() == threads
    torch.rand(11)  # a different global state must not change anything
    assert _probe_run(4) == probe and _two_stage_run(3) == two_stage
    assert _probe_run(5)["curve"] != probe["curve"]
    assert _two_stage_run(4)["state"] != two_stage["state"]

    code = textwrap.dedent(
        """
        import json
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(2024)  # any global state: results depend on the seeds only
        from tests.test_models_seeding import _probe_run, _two_stage_run
        print(json.dumps({"probe": _probe_run(4), "two_stage": _two_stage_run(3)}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    assert fresh == {"probe": probe, "two_stage": two_stage}
