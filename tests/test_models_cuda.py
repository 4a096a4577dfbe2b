"""CUDA path (skipped without a GPU): bf16 autocast forward, training, save/load."""

from __future__ import annotations

import pytest
import torch

from hetero_models import create_model, load_model, save_model
from hetero_models.trainer import Trainer, train_two_stage
from tests.test_models_helpers import TINY, make_suite

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SUITE = make_suite()


def test_cuda_forward_autocasts_and_matches_cpu():
    torch.manual_seed(0)
    net = create_model("highmmt", SUITE, **TINY).eval()
    inputs = {t.name: {m.name: torch.randn(6, *m.shape) for m in t.modalities} for t in SUITE.tasks}
    with torch.no_grad():
        cpu = net(inputs)
        net.cuda()
        gpu = net({t: {m: a.cuda() for m, a in x.items()} for t, x in inputs.items()})
    for task in cpu:
        assert gpu[task].dtype == torch.float32 and gpu[task].is_cuda
        torch.testing.assert_close(gpu[task].cpu(), cpu[task], atol=5e-2, rtol=5e-2)  # bf16


def test_cuda_two_stage_training_and_round_trip(tmp_path):
    plan = {"unimodal_groups": [[u.label] for u in SUITE.units()], "crossmodal_groups": []}
    net, history = train_two_stage(
        SUITE, plan, hparams=TINY, pretrain_epochs=2, finetune_epochs=2, batch_size=8, device="cuda"
    )
    assert len(history) == 4 and next(net.parameters()).is_cuda
    metrics = Trainer(net, SUITE, device="cuda").evaluate("test")
    assert set(metrics) == {"alpha", "beta", "gamma"}
    save_model(net, tmp_path)
    loaded = load_model(tmp_path, device="cuda").eval()
    net.eval()
    x = {m.name: torch.randn(4, *m.shape, device="cuda") for m in SUITE.task("beta").modalities}
    with torch.no_grad():
        assert torch.equal(net("beta", x), loaded("beta", x))


def test_cuda_amp_false_keeps_fp32_inside_an_enclosing_autocast():
    inputs = {
        t.name: {m.name: torch.randn(6, *m.shape, device="cuda") for m in t.modalities}
        for t in SUITE.tasks
    }

    def linear_dtypes(amp: bool) -> set[torch.dtype]:
        net = create_model("highmmt", SUITE, amp=amp, **TINY).cuda().eval()
        seen: set[torch.dtype] = set()
        hooks = [
            m.register_forward_hook(lambda mod, args, out: seen.add(out.dtype))
            for m in net.modules()
            if isinstance(m, torch.nn.Linear)
        ]
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            net(inputs)
        for h in hooks:
            h.remove()
        return seen

    assert torch.bfloat16 in linear_dtypes(amp=True)  # the hooks see the autocast
    assert linear_dtypes(amp=False) == {torch.float32}  # amp=False overrides the enclosing one
