"""Input standardisation: Fourier encodings, one-hot modality index, token layout, masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hetero_models.inputs import (
    InputStandardizer,
    ModalitySpec,
    ModelSpec,
    TaskSpec,
    fourier_encode,
    positional_encoding,
)
from hetero_models.layers import CrossAttentionBlock
from hetero_models.perceiver import pad_segments
from tests.test_models_helpers import make_suite

torch.set_num_threads(1)


def test_fourier_encode_known_values():
    x = torch.tensor([0.5], dtype=torch.float64)
    enc = fourier_encode(x, num_freq_bands=3, max_freq=4.0)[0]
    freqs = [1.0, 1.5, 2.0]  # linspace(1, max_freq / 2, 3)
    expected = [math.sin(math.pi * f * 0.5) for f in freqs]
    expected += [math.cos(math.pi * f * 0.5) for f in freqs] + [0.5]
    np.testing.assert_allclose(enc.numpy(), expected, atol=1e-12)


def test_positional_encoding_grid_layout():
    enc = positional_encoding((2, 3), num_freq_bands=1, max_freq=2.0)
    # 6 positions (row-major), per axis [sin, cos, raw] -> 6 features
    assert enc.shape == (6, 6)
    raw_rows = enc[:, 2].reshape(2, 3)
    raw_cols = enc[:, 5].reshape(2, 3)
    np.testing.assert_allclose(raw_rows.numpy(), [[-1, -1, -1], [1, 1, 1]])
    np.testing.assert_allclose(raw_cols.numpy(), [[-1, 0, 1], [-1, 0, 1]])
    # with one band at frequency 1: sin(pi * pos)
    np.testing.assert_allclose(
        enc[:, 3].numpy(), np.sin(np.pi * raw_cols.reshape(-1).numpy()), atol=1e-6
    )
    assert positional_encoding((), 6, 10.0).shape == (1, 0)


def test_width_and_layout_follow_the_paper_example():
    # AV-MNIST image 7x7x16 (6 bands) next to UR-FUNNY video 20x371 (3 bands), 9 modalities
    names = [f"m{i}" for i in range(7)]
    tasks = [
        TaskSpec("av", (ModalitySpec("image", (7, 7), 16, 6, 1.0),), 10),
        TaskSpec(
            "uf",
            (
                ModalitySpec("video", (20,), 371, 3, 1.0),
                *(ModalitySpec(n, (3,), 1, 1, 1.0) for n in names),
            ),
            2,
        ),
    ]
    std = InputStandardizer(ModelSpec.from_tasks(tasks))
    assert std.width == 387  # 371 + 7 + 9, as in appendix B.1
    x = torch.randn(2, 7, 7, 16)
    tok = std.tokens("av", "image", x)
    assert tok.shape == (2, 49, 387)
    torch.testing.assert_close(tok[:, :, :16], x.reshape(2, 49, 16))
    assert torch.all(tok[:, :, 16 : 16 + 336] == 0)  # zero padding
    pos = positional_encoding((7, 7), 6, 1.0)
    torch.testing.assert_close(tok[0, :, 352:378], pos)  # 26 positional features
    onehot = tok[:, :, 378:]
    assert torch.all(onehot.sum(-1) == 1)
    assert torch.all(onehot[:, :, std.modality_index("image")] == 1)


def test_same_modality_name_shares_one_hot_index_across_tasks():
    suite = make_suite()
    std = InputStandardizer(ModelSpec.from_suite(suite))
    n_mod = len(suite.modality_names())
    a = std.tokens("alpha", "seq", torch.zeros(3, 6, 2))
    b = std.tokens("beta", "seq", torch.zeros(3, 6, 2))
    torch.testing.assert_close(a[:, :, -n_mod:], b[:, :, -n_mod:])
    idx = suite.modality_names().index("seq")
    assert torch.all(a[:, :, -n_mod + idx] == 1)
    c = std.tokens("beta", "tab", torch.zeros(3, 8))
    assert c.shape[1] == 1  # positional_axes=0: one token of 8 channels
    assert not torch.equal(a[0, 0, -n_mod:], c[0, 0, -n_mod:])


def test_wrong_input_shape_is_a_one_line_error():
    std = InputStandardizer(ModelSpec.from_suite(make_suite()))
    with pytest.raises(Exception, match=r"alpha.*'img'.*expected per-sample shape \(4, 4, 3\)"):
        std.tokens("alpha", "img", torch.zeros(2, 4, 4))
    with pytest.raises(Exception, match="input for modality 'seq' missing"):
        std("alpha", {"img": torch.zeros(2, 4, 4, 3)})


def test_pad_segments_masks_padding():
    a, b = torch.randn(2, 3, 4), torch.randn(1, 5, 4)
    padded, mask = pad_segments([a, b])
    assert padded.shape == (3, 5, 4)
    assert mask.tolist() == [[True] * 3 + [False] * 2] * 2 + [[True] * 5]
    torch.testing.assert_close(padded[:2, :3], a)
    assert torch.all(padded[:2, 3:] == 0)
    same, none = pad_segments([a, a])
    assert none is None and same.shape == (4, 3, 4)


def test_factored_projection_equals_projection_of_full_tokens():
    torch.manual_seed(0)
    std = InputStandardizer(ModelSpec.from_suite(make_suite()))
    block = CrossAttentionBlock(16, std.width, heads=2, dim_head=8)
    with torch.no_grad():  # non-trivial LayerNorm parameters
        block.norm_context.weight.uniform_(0.5, 1.5)
        block.norm_context.bias.normal_()
    for task, mod, shape in [
        ("alpha", "img", (3, 4, 4, 3)),
        ("beta", "tab", (3, 8)),
        ("beta", "vec", (3, 5)),
    ]:
        s = std.standardize(task, mod, torch.randn(*shape) * 3 + 1)
        full = block.project_context(s.tokens())
        fact = block.project_parts(s.x, s.suffix, s.width)
        torch.testing.assert_close(fact, full, atol=1e-5, rtol=1e-4)
