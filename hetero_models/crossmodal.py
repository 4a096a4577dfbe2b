"""Shared crossmodal transformer layer (HighMMT appendix B.3), batched over pairs.

For a modality pair ``(a, b)`` the block runs both directions, ``a -> b`` (queries from
``a``'s latents, keys/values from ``b``'s) and ``b -> a``; each direction is
[cross-attention, feed-forward, latent self-attention + feed-forward] per layer and its
output is the *last* latent vector. All pairs and both directions go through one call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hetero_models.layers import CrossAttentionBlock, FeedForwardBlock, SelfAttentionBlock

__all__ = ["CrossmodalBlock"]


class CrossmodalBlock(nn.Module):
    """Crossmodal transformer; maps pairs of latent arrays to ``(B, 2 * latent_dim)``.

    Parameters
    ----------
    latent_dim : int
        Width of the unimodal latents.
    cross_heads, cross_dim_head : int
        Crossmodal attention heads.
    latent_heads, latent_dim_head : int
        Self-attention heads.
    depth : int
        Layers.
    self_per_cross_attn : int
        Self-attention + feed-forward blocks per layer.
    """

    def __init__(
        self,
        latent_dim: int = 64,
        cross_heads: int = 4,
        latent_heads: int = 6,
        cross_dim_head: int = 64,
        latent_dim_head: int = 64,
        depth: int = 1,
        self_per_cross_attn: int = 1,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.layers = nn.ModuleList()
        for _ in range(depth):
            self.layers.append(
                nn.ModuleDict(
                    {
                        "cross_attn": CrossAttentionBlock(
                            latent_dim, latent_dim, cross_heads, cross_dim_head
                        ),
                        "cross_ff": FeedForwardBlock(latent_dim),
                        "self_blocks": nn.ModuleList(
                            [
                                nn.ModuleList(
                                    [
                                        SelfAttentionBlock(
                                            latent_dim, latent_heads, latent_dim_head
                                        ),
                                        FeedForwardBlock(latent_dim),
                                    ]
                                )
                                for _ in range(self_per_cross_attn)
                            ]
                        ),
                    }
                )
            )

    def forward(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        """``[(Z_a, Z_b)]`` -> ``[cat(CT(Z_a, Z_b), CT(Z_b, Z_a))]``, each ``(B_i, 2D)``.

        Both directions of all pairs run as one batch. A latent array that occurs in several
        pairs (a modality of a task with three or more modalities) is normalised and
        projected to queries and keys/values once for the first layer.
        """
        if len({int(z.shape[1]) for pair in items for z in pair}) > 1:
            return self._by_length(items)
        sizes = [int(a.shape[0]) for a, _ in items]
        index: dict[int, int] = {}
        unique: list[torch.Tensor] = []
        pos = []
        for a, b in items:
            for z in (a, b):
                if id(z) not in index:
                    index[id(z)] = len(unique)
                    unique.append(z)
            pos.append((index[id(a)], index[id(b)]))
        q_src = [i for i, _ in pos] + [j for _, j in pos]  # a -> b, then b -> a
        c_src = [j for _, j in pos] + [i for i, _ in pos]
        lengths = [int(z.shape[0]) for z in unique]
        all_z = torch.cat(unique)

        def gather(t: torch.Tensor, src: list[int]) -> torch.Tensor:
            parts = t.split(lengths)
            return torch.cat([parts[i] for i in src])

        context = None  # the other modality's latents per row: needed from layer 2 on
        x = None
        n_layers = len(self.layers)
        for li, layer in enumerate(self.layers):
            cross = layer["cross_attn"]
            if x is None:
                attn = cross.attn
                if attn.foldable:  # see Attention.folded_weights
                    w_q, w_o = attn.folded_weights()
                    q = F.linear(cross.norm(all_z), w_q)
                    ctx = cross.norm_context(all_z)
                    out = attn.attend_folded(gather(q, q_src), gather(ctx, c_src), w_o)
                else:
                    q = attn.to_q(cross.norm(all_z))
                    kv = cross.project_context(all_z)
                    out = attn.attend(gather(q, q_src), gather(kv, c_src))
                x = gather(all_z, q_src) + out
            else:
                if context is None:
                    context = gather(all_z, c_src)
                x = cross(x, context)
            x = layer["cross_ff"](x)
            blocks = layer["self_blocks"]
            for bi, (attn, ff) in enumerate(blocks):
                # only the last latent vector is read out: the final block computes just it
                last = li == n_layers - 1 and bi == len(blocks) - 1
                x = ff(attn(x, last_only=last))
        out = x[:, -1]
        half = sum(sizes)
        fwd, bwd = out[:half].split(sizes), out[half:].split(sizes)
        return [torch.cat([f, b], dim=1) for f, b in zip(fwd, bwd, strict=True)]

    def _by_length(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        """:meth:`forward` for sequences of different lengths (token sequences of a model
        without the unimodal encoder): pairs whose two sides share one length go through
        the batched path together, each other pair one direction at a time."""
        out: list[torch.Tensor | None] = [None] * len(items)
        same: dict[int, list[int]] = {}
        for i, (a, b) in enumerate(items):
            if a.shape[1] == b.shape[1]:
                same.setdefault(int(a.shape[1]), []).append(i)
            else:
                out[i] = torch.cat([self._direction(a, b), self._direction(b, a)], dim=1)
        for idx in same.values():
            for i, r in zip(idx, self.forward([items[i] for i in idx]), strict=True):
                out[i] = r
        assert all(r is not None for r in out)
        return [r for r in out if r is not None]

    def _direction(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``CT(x, context)[:, -1]`` for one pair, unbatched (the reference computation)."""
        n_layers = len(self.layers)
        for li, layer in enumerate(self.layers):
            x = layer["cross_ff"](layer["cross_attn"](x, context))
            blocks = layer["self_blocks"]
            for bi, (attn, ff) in enumerate(blocks):
                last = li == n_layers - 1 and bi == len(blocks) - 1  # only it is read out
                x = ff(attn(x, last_only=last))
        return x[:, -1]
