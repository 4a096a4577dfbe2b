"""HighMMT: shapes, gradients, exactness of the batched forward, grouping, save/load, registry."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hetero.errors import HeteroError, PlanError
from hetero.suite import Unit
from hetero_models import (
    HighMMT,
    ModelSpec,
    create_model,
    list_models,
    load_model,
    register_model,
    save_model,
)
from hetero_models.layers import Attention, FeedForward, SelfAttentionBlock
from hetero_models.registry import MODELS
from tests.test_models_helpers import TINY, make_suite

torch.set_num_threads(1)

SUITE = make_suite()


def batch(task: str, n: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = SUITE.task(task)
    return {m.name: torch.randn(n, *m.shape, generator=g) for m in t.modalities}


def all_batches(n: int = 5) -> dict[str, dict[str, torch.Tensor]]:
    return {t.name: batch(t.name, n, i) for i, t in enumerate(SUITE.tasks)}


def model(**kw) -> HighMMT:
    torch.manual_seed(0)
    return create_model("highmmt", SUITE, **{**TINY, **kw})


def plain_cross(block, x, context):
    """Cross-attention block with explicit query/key/value projections."""
    a = block.attn
    return x + a.attend(a.to_q(block.norm(x)), a.to_kv(block.norm_context(context)))


def plain_self(block, x):
    """Self-attention block with explicit projections over every position."""
    h = block.norm(x)
    return x + block.attn.attend(block.attn.to_q(h), block.attn.to_kv(h))


def reference_logits(net: HighMMT, task: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Straightforward HighMMT forward: full tokens, one modality and one direction at a
    time, every latent through every block -- what the batched model must reproduce."""
    spec = net.spec.task(task)
    zs = []
    for m in spec.modalities:
        enc = net.unimodal.copies[net.unimodal.group_key(Unit(task, (m.name,)).label)]
        tokens = net.standardizer.tokens(task, m.name, inputs[m.name])
        x = enc.latents.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        for layer in enc.layers:
            x = plain_cross(layer["cross_attn"], x, tokens)
            x = layer["cross_ff"](x)
            for attn, ff in layer["self_blocks"]:
                x = ff(plain_self(attn, x))
        zs.append(x)
    outs = []
    names = [m.name for m in spec.modalities]
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        label = Unit(task, (a, b)).label
        cm = net.crossmodal.copies[net.crossmodal.group_key(label)]
        for q, c in ((zs[i], zs[j]), (zs[j], zs[i])):
            x = q
            for layer in cm.layers:
                x = plain_cross(layer["cross_attn"], x, c)
                x = layer["cross_ff"](x)
                for attn, ff in layer["self_blocks"]:
                    x = ff(plain_self(attn, x))
            outs.append(x[:, -1])
    rep = torch.cat(outs, 1) if outs else zs[0][:, -1]
    return net.head(task)(rep)


def test_attention_matches_textbook_formula():
    torch.manual_seed(0)
    att = Attention(8, 6, heads=2, dim_head=4)
    x, ctx = torch.randn(3, 5, 8), torch.randn(3, 7, 6)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[0, 4:] = False
    q = att.to_q(x).view(3, 5, 2, 4).transpose(1, 2)
    k, v = att.to_kv(ctx).chunk(2, -1)
    k, v = (t.view(3, 7, 2, 4).transpose(1, 2) for t in (k, v))
    scores = q @ k.transpose(-1, -2) / 2.0
    scores = scores.masked_fill(~mask[:, None, None, :], -math.inf)
    expected = att.to_out((scores.softmax(-1) @ v).transpose(1, 2).reshape(3, 5, 8))
    torch.testing.assert_close(att(x, ctx, mask), expected, atol=1e-5, rtol=1e-5)
    assert att.to_q.bias is None and att.to_kv.bias is None and att.to_out.bias is not None


def test_feed_forward_is_linear_geglu_linear():
    torch.manual_seed(0)
    ff = FeedForward(8)
    assert [tuple(m.weight.shape) for m in (ff.net[0], ff.net[2])] == [(64, 8), (8, 32)]
    x = torch.randn(3, 5, 8)
    h = ff.net[0](x)
    expected = ff.net[2](h[..., :32] * torch.nn.functional.gelu(h[..., 32:]))
    torch.testing.assert_close(ff(x), expected)
    torch.testing.assert_close(ff.net(x), expected)


def test_folded_attention_equals_projected_attention():
    torch.manual_seed(0)
    att = Attention(16, 12, heads=3, dim_head=16)
    assert att.foldable and not Attention(16, 40, heads=2, dim_head=16).foldable
    x, ctx = torch.randn(4, 5, 16), torch.randn(4, 7, 12)
    mask = torch.ones(4, 7, dtype=torch.bool)
    mask[1, 3:] = False
    w_q, w_o = att.folded_weights()
    folded = att.attend_folded(torch.nn.functional.linear(x, w_q), ctx, w_o, mask)
    torch.testing.assert_close(folded, att(x, ctx, mask), atol=1e-5, rtol=1e-5)
    block = SelfAttentionBlock(16, heads=2, dim_head=16)
    y = torch.randn(3, 6, 16)
    torch.testing.assert_close(block(y), plain_self(block, y), atol=1e-5, rtol=1e-5)


def test_last_only_self_attention_equals_the_last_row_of_full_attention():
    torch.manual_seed(0)
    block = SelfAttentionBlock(16, heads=3, dim_head=8)
    x = torch.randn(4, 6, 16)
    expected = plain_self(block, x)[:, -1:]
    torch.testing.assert_close(block(x, last_only=True), expected, atol=1e-5, rtol=1e-5)


FOLDED = {"latent_dim": 8, "cross_dim_head": 8, "latent_dim_head": 8}  # head dim >= width


@pytest.mark.parametrize(
    ("attention", "sizes"), [("bucketed", {}), ("padded", {}), ("bucketed", FOLDED)]
)
def test_batched_forward_equals_reference(attention, sizes):
    net = model(attention=attention, **sizes).eval()
    blocks = [net.crossmodal.copies["0"].layers[0]["cross_attn"].attn]
    assert all(b.foldable == bool(sizes) for b in blocks)
    with torch.no_grad():
        for p in net.parameters():  # move LayerNorms/BatchNorms off their identity init
            p.add_(0.05 * torch.randn_like(p))
        fused = net(all_batches())
        for task, inputs in all_batches().items():
            ref = reference_logits(net, task, inputs)
            torch.testing.assert_close(fused[task], ref, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(net(task, inputs), ref, atol=1e-4, rtol=1e-4)


def test_output_shapes_and_no_nan():
    net = model()
    out = net(all_batches(n=4))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "alpha": (4, 3),
        "beta": (4, 1),
        "gamma": (4, 1),
    }
    assert all(torch.isfinite(v).all() for v in out.values())


def test_every_parameter_gets_a_gradient():
    net = model(depth=2, crossmodal_depth=2, self_per_cross_attn=2)
    out = net(all_batches())
    sum(v.square().mean() for v in out.values()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def overfit_alpha(net: HighMMT) -> float:
    """Train ``net`` on 8 samples of task alpha; the last training loss."""
    inputs = batch("alpha", n=8, seed=3)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net("alpha", inputs), y)
        loss.backward()
        opt.step()
    return loss.item()


def test_a_tiny_batch_is_overfitted():
    net = model()
    assert overfit_alpha(net) < 0.05
    net.eval()
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    assert torch.equal(net("alpha", batch("alpha", n=8, seed=3)).argmax(1), y)


def test_large_preset_parameter_count_matches_the_release():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_highmmt

    net = create_model("highmmt", bench_highmmt.build_spec(), preset="large")
    report = net.parameter_report()
    assert net.standardizer.width == 387
    assert report["unimodal"]["total"] + report["crossmodal"]["total"] == 522_246
    assert report["other"] == 5_136  # four BatchNorm + Linear heads
    assert report["total"] == 527_382


def _groups(kind: str):
    return [u.label for u in (SUITE.units() if kind == "unimodal" else SUITE.interaction_units())]


def test_parameter_counts_for_share_all_share_none_and_three_groups():
    shared = model()
    rep = shared.parameter_report()
    enc, cm = rep["unimodal"]["total"], rep["crossmodal"]["total"]
    other = rep["other"]
    assert rep["total"] == enc + cm + other
    units, inter = _groups("unimodal"), _groups("crossmodal")
    none = model().apply_plan(
        {"unimodal_groups": [[u] for u in units], "crossmodal_groups": [[u] for u in inter]}
    )
    assert none.parameter_report()["total"] == len(units) * enc + len(inter) * cm + other
    three = {
        "unimodal_groups": [
            ["alpha/img", "gamma/img"],
            ["alpha/seq", "beta/seq"],
            ["beta/vec", "beta/tab", "gamma/tab"],
        ],
        "crossmodal_groups": [inter],
    }
    net = model().apply_plan(three)
    rep3 = net.parameter_report()
    assert rep3["unimodal"]["groups"] == {"0": enc, "1": enc, "2": enc}
    assert rep3["total"] == 3 * enc + cm + other
    assert net.groups() == {
        "unimodal_groups": three["unimodal_groups"],
        "crossmodal_groups": [inter],
    }
    # copies start identical (from the shared weights) but are separate tensors
    c0, c1 = net.unimodal.copies["0"], net.unimodal.copies["1"]
    assert torch.equal(c0.latents, c1.latents) and c0.latents is not c1.latents
    assert net.unimodal.group_key("gamma/tab") == "2"


def test_apply_plan_keeps_outputs_and_rejects_uncovered_units():
    net = model().eval()
    inputs = all_batches()
    with torch.no_grad():
        before = net(inputs)
        net.apply_plan(
            {
                "unimodal_groups": [[u] for u in _groups("unimodal")],
                "crossmodal_groups": [[u] for u in _groups("crossmodal")],
            }
        )
        after = net(inputs)
    for task in before:
        torch.testing.assert_close(after[task], before[task])
    with pytest.raises(PlanError, match=r"do not cover unit.*beta/vec"):
        model().apply_plan(
            {
                "unimodal_groups": [
                    ["alpha/img", "alpha/seq", "beta/seq"],
                    ["beta/tab", "gamma/img", "gamma/tab"],
                ]
            }
        )


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    net = model()
    net.apply_plan(
        {
            "unimodal_groups": [
                ["alpha/img", "gamma/img"],
                ["alpha/seq", "beta/seq", "beta/vec"],
                ["beta/tab", "gamma/tab"],
            ],
            "crossmodal_groups": [_groups("crossmodal")],
        }
    )
    net.train()
    net(all_batches(n=6))  # move BatchNorm running statistics
    net.eval()
    save_model(net, tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    loaded = load_model(tmp_path).eval()
    with torch.no_grad():
        a, b = net(all_batches()), loaded(all_batches())
    for task in a:
        assert torch.equal(a[task], b[task])
    assert loaded.groups() == net.groups()
    assert loaded.parameter_report() == net.parameter_report()


def test_load_rejects_mismatched_weights(tmp_path):
    save_model(model(), tmp_path)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(HeteroError, match=r"weights do not match config\.json"):
        load_model(tmp_path)


def test_registry_lists_and_rejects_unknown_names():
    assert "highmmt" in list_models()
    with pytest.raises(HeteroError, match=r"unknown model 'nope' \(valid: .*highmmt"):
        create_model("nope", SUITE)
    with pytest.raises(HeteroError, match="unknown preset 'huge'"):
        create_model("highmmt", SUITE, preset="huge")
    with pytest.raises(HeteroError, match=r"unknown HighMMT hyperparameter.*latnts"):
        create_model("highmmt", SUITE, latnts=3)


def test_register_a_custom_model():
    def factory(spec: ModelSpec, **hp):
        return HighMMT(spec, **{**TINY, **hp})

    try:
        assert register_model("tiny-highmmt-test")(factory) is factory
        net = create_model("tiny-highmmt-test", SUITE)
        assert "tiny-highmmt-test" in list_models()
        assert net.model_name == "tiny-highmmt-test"
        register_model("tiny-highmmt-test", factory)  # the same factory again is fine
        with pytest.raises(HeteroError, match=r"model 'tiny-highmmt-test' is already registered"):
            register_model("tiny-highmmt-test", HighMMT)  # another object: refused
        with pytest.raises(HeteroError, match=r"model 'highmmt' is already registered"):
            register_model("highmmt")(factory)
    finally:
        MODELS.unregister("tiny-highmmt-test")
    assert "tiny-highmmt-test" not in list_models()
    assert create_model("highmmt", SUITE, **TINY).model_name == "highmmt"


def test_presets_follow_the_paper_tables():
    spec = ModelSpec.from_suite(SUITE)
    small, medium, large = (HighMMT(spec, preset=p) for p in ("small", "medium", "large"))
    assert small.unimodal.copies["0"].latents.shape == (20, 64)
    assert medium.unimodal.copies["0"].latents.shape == (12, 64)
    heads = lambda m: m.crossmodal.copies["0"].layers[0]["cross_attn"].attn.heads  # noqa: E731
    assert (heads(small), heads(medium), heads(large)) == (1, 1, 4)
    self_heads = lambda m: m.unimodal.copies["0"].layers[0]["self_blocks"][0][0].attn.heads  # noqa: E731
    assert (self_heads(small), self_heads(medium), self_heads(large)) == (8, 8, 6)


def test_third_party_models_register_through_entry_points(monkeypatch):
    """A registry configured like MODELS lists entry points unloaded and loads them on use."""
    from importlib.metadata import EntryPoint

    import hetero.registry
    from hetero.registry import Registry

    ep = EntryPoint(name="ep-highmmt", value="hetero_models.highmmt:HighMMT", group="hetero.models")
    monkeypatch.setattr(
        hetero.registry, "entry_points", lambda group: [ep] if group == "hetero.models" else []
    )
    fresh: Registry = Registry(
        MODELS.kind, group=MODELS.group, builtins=MODELS.builtins, error=MODELS.error
    )
    assert fresh.names() == ["ep-highmmt"]
    assert fresh.get("ep-highmmt") is HighMMT
    with MODELS.registered("ep-highmmt", fresh.get("ep-highmmt")):
        net = create_model("ep-highmmt", SUITE, **TINY)
        assert isinstance(net, HighMMT) and net.model_name == "ep-highmmt"
    assert "ep-highmmt" not in list_models()


def test_descriptive_preset_names_are_the_same_presets_and_keep_run_keys():
    from hetero.measure import plan_runs
    from hetero.measure.synthetic import planted_suite
    from hetero_models.highmmt import PRESET_NAMES, preset_key

    spec = ModelSpec.from_suite(SUITE)
    assert PRESET_NAMES == {"small-setting": "small", "medium-setting": "medium",
                            "large-setting": "large"}  # fmt: skip
    for name, key in PRESET_NAMES.items():
        assert preset_key(name) == preset_key(key) == key
        a, b = HighMMT(spec, preset=name).hparams, HighMMT(spec, preset=key).hparams
        assert a.pop("preset") == name and b.pop("preset") == key and a == b
    with pytest.raises(HeteroError, match=r"unknown preset 'huge' \(valid: small-setting, "
                                          r"medium-setting, large-setting; short forms small"):  # fmt: skip
        HighMMT(spec, preset="huge")
    suite = planted_suite(1, 2, n_noise=0, n_samples=60, width=4, latent=2, seed=0)[0]
    keys = [
        plan_runs(suite, learner="highmmt", learner_config={"preset": p}, seeds=1,
                  interactions=False)["modality"].scratch[(suite.units()[0].label, 0)].key
        for p in ("small", "small-setting", "large-setting")
    ]  # fmt: skip
    assert keys[0] == keys[1] != keys[2]


def plain_direction(block, x, context):
    """One direction of the crossmodal block from its layers, with explicit projections and
    every position through every block: the textbook computation."""
    for layer in block.layers:
        x = layer["cross_ff"](plain_cross(layer["cross_attn"], x, context))
        for attn, ff in layer["self_blocks"]:
            x = ff(plain_self(attn, x))
    return x[:, -1]


@pytest.mark.parametrize("depth,dim_head", [(1, 8), (2, 8), (2, 32)])  # 32: folded weights
def test_crossmodal_block_on_sequences_of_different_lengths_equals_the_reference(depth, dim_head):
    from hetero_models.crossmodal import CrossmodalBlock

    torch.manual_seed(0)
    block = CrossmodalBlock(
        16, cross_heads=2, latent_heads=2, cross_dim_head=dim_head, latent_dim_head=dim_head,
        depth=depth, self_per_cross_attn=2,
    )  # fmt: skip
    assert block.layers[0]["cross_attn"].attn.foldable == (dim_head >= 16)
    a, b, c = torch.randn(3, 5, 16), torch.randn(3, 7, 16), torch.randn(2, 5, 16)
    d = torch.randn(2, 5, 16)
    items = [(a, b), (c, d), (b, a), (c, c)]  # unequal, equal, unequal, one array twice
    with torch.no_grad():
        got = block(items)
        for (x, y), out in zip(items, got, strict=True):
            ref = torch.cat([plain_direction(block, x, y), plain_direction(block, y, x)], dim=1)
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_without_the_unimodal_encoder_trains_groups_and_round_trips(tmp_path):
    with pytest.raises(HeteroError, match="unimodal must be true or false, got 'False'"):
        model(unimodal="False")
    net = model(unimodal=False)
    assert net.hparams["unimodal"] is False and "unimodal" not in model().hparams
    assert not any("latents" in n for n, _ in net.named_parameters())  # no Perceiver
    assert net.parameter_report()["total"] < model().parameter_report()["total"]
    # single-modality and multimodal tasks, token sequences of different lengths
    out = net(all_batches(n=4))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "alpha": (4, 3),
        "beta": (4, 1),
        "gamma": (4, 1),
    }
    assert overfit_alpha(net) < 0.05
    groups = [["alpha/img", "gamma/img"], ["alpha/seq", "beta/seq", "beta/vec"]]
    net.apply_plan(
        {
            "unimodal_groups": [*groups, ["beta/tab", "gamma/tab"]],
            "crossmodal_groups": [_groups("crossmodal")],
        }
    )
    assert net.unimodal.n_groups == 3
    net.eval()
    save_model(net, tmp_path)
    loaded = load_model(tmp_path).eval()
    assert loaded.hparams["unimodal"] is False and loaded.groups() == net.groups()
    with torch.no_grad():
        a, b = net(all_batches()), loaded(all_batches())
    for task in a:
        assert torch.equal(a[task], b[task])


def test_cpu_amp_runs_in_bf16_on_the_cpu_close_to_fp32_and_round_trips(tmp_path):
    with pytest.raises(HeteroError, match="cpu_amp must be true or false, got 1"):
        model(cpu_amp=1)
    plain, fast = model().eval(), model(cpu_amp=True).eval()
    assert "cpu_amp" not in plain.hparams and fast.hparams["cpu_amp"] is True
    seen = []
    (block,) = fast.crossmodal.copies.values()
    hook = (
        block.layers[0]["cross_ff"]
        .ff.net[2]
        .register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    )
    with torch.no_grad():
        a, b = plain(all_batches()), fast(all_batches())
    hook.remove()
    assert seen == [torch.bfloat16]  # the matrix products ran in bf16
    for task in a:
        assert b[task].dtype == torch.float32  # logits stay fp32
        assert not torch.equal(a[task], b[task])
        torch.testing.assert_close(b[task], a[task], atol=0.1, rtol=0.05)
    save_model(fast, tmp_path)
    assert load_model(tmp_path).hparams["cpu_amp"] is True
    # off, the model leaves the CPU to an enclosing autocast (as before cpu_amp existed)
    seen.clear()
    (block,) = plain.crossmodal.copies.values()
    hook = (
        block.layers[0]["cross_ff"]
        .ff.net[2]
        .register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    )
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        plain(all_batches())
    hook.remove()
    assert seen == [torch.bfloat16]
