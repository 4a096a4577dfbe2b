"""Shared unimodal Perceiver encoder (HighMMT appendix B.2), batched over modalities.

One call encodes any number of modality batches (a list of
:class:`~hetero_models.inputs.Standardized` inputs or plain ``(B, T, W)`` token tensors).
Keys/values are computed per modality from the factored tokens (no work on the zero
padding of the token width). The cross-attention then runs either

* ``attention="padded"``: all modalities stacked on the batch axis, padded to the longest
  token count, with a boolean padding mask -- one attention call; or
* ``attention="bucketed"`` (default): one attention call per distinct token count, no
  padding at all (the same numbers, less work when token counts differ a lot);

and everything after it (feed-forward, latent self-attention) runs once on all rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hetero_models.inputs import Standardized
from hetero_models.layers import CrossAttentionBlock, FeedForwardBlock, SelfAttentionBlock

__all__ = ["ATTENTION_MODES", "PerceiverEncoder", "pad_segments"]

ATTENTION_MODES = ("bucketed", "padded")


def pad_segments(segments: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stack ``[(B_i, T_i, C)]`` on the batch axis, padded to ``max T_i``.

    Returns the padded ``(sum B_i, max T_i, C)`` tensor and a boolean mask
    ``(sum B_i, max T_i)`` (True = real token), or None when no padding was needed.
    """
    t_max = max(int(s.shape[1]) for s in segments)
    if all(int(s.shape[1]) == t_max for s in segments):
        return torch.cat(list(segments)), None
    padded, masks = [], []
    for s in segments:
        b, t, _ = s.shape
        padded.append(nn.functional.pad(s, (0, 0, 0, t_max - t)))
        m = torch.zeros(b, t_max, dtype=torch.bool, device=s.device)
        m[:, :t] = True
        masks.append(m)
    return torch.cat(padded), torch.cat(masks)


def _size(item) -> tuple[int, int]:
    if isinstance(item, Standardized):
        return item.batch_size, item.n_tokens
    return int(item.shape[0]), int(item.shape[1])


class PerceiverEncoder(nn.Module):
    """Latent array + ``depth`` layers of [cross-attention, feed-forward, latent blocks].

    Parameters
    ----------
    input_dim : int
        Token width (from :class:`~hetero_models.inputs.InputStandardizer`).
    num_latents, latent_dim : int
        Shape of the trainable latent array.
    cross_heads, cross_dim_head : int
        Cross-attention (latents -> tokens).
    latent_heads, latent_dim_head : int
        Latent self-attention.
    depth : int
        Number of layers (each cross-attends to the input again).
    self_per_cross_attn : int
        Latent self-attention + feed-forward blocks per layer.
    attention : {"bucketed", "padded"}
        How modalities with different token counts share the cross-attention call.
    """

    def __init__(
        self,
        input_dim: int,
        num_latents: int = 20,
        latent_dim: int = 64,
        cross_heads: int = 1,
        latent_heads: int = 6,
        cross_dim_head: int = 64,
        latent_dim_head: int = 64,
        depth: int = 1,
        self_per_cross_attn: int = 1,
        attention: str = "bucketed",
    ):
        super().__init__()
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        self.input_dim = input_dim
        self.attention = attention
        self.latents = nn.Parameter(torch.randn(num_latents, latent_dim))
        self.layers = nn.ModuleList()
        for _ in range(depth):
            layer = nn.ModuleDict(
                {
                    "cross_attn": CrossAttentionBlock(
                        latent_dim, input_dim, cross_heads, cross_dim_head
                    ),
                    "cross_ff": FeedForwardBlock(latent_dim),
                    "self_blocks": nn.ModuleList(
                        [
                            nn.ModuleList(
                                [
                                    SelfAttentionBlock(latent_dim, latent_heads, latent_dim_head),
                                    FeedForwardBlock(latent_dim),
                                ]
                            )
                            for _ in range(self_per_cross_attn)
                        ]
                    ),
                }
            )
            self.layers.append(layer)

    @staticmethod
    def _context(cross: CrossAttentionBlock, item) -> torch.Tensor:
        if isinstance(item, Standardized):
            return cross.project_parts(item.x, item.suffix, item.width)
        return cross.project_context(item)

    def _cross(
        self,
        cross: CrossAttentionBlock,
        q: torch.Tensor,
        shared_q: bool,
        kvs: list[torch.Tensor],
        sizes: list[tuple[int, int]],
    ) -> torch.Tensor:
        """Cross-attention core for all rows (before the output projection)."""
        rows = sum(b for b, _ in sizes)
        if self.attention == "padded" or len({t for _, t in sizes}) == 1:
            kv, mask = pad_segments(kvs)
            q_all = q.unsqueeze(0).expand(rows, -1, -1) if shared_q else q
            return cross.attn.core(q_all, kv, mask)
        q_rows = None if shared_q else q.split([b for b, _ in sizes])
        buckets: dict[int, list[int]] = {}
        for i, (_, t) in enumerate(sizes):
            buckets.setdefault(t, []).append(i)
        out: list[torch.Tensor | None] = [None] * len(sizes)
        for idx in buckets.values():
            kv = torch.cat([kvs[i] for i in idx])
            n = kv.shape[0]
            qb = (
                q.unsqueeze(0).expand(n, -1, -1)
                if shared_q
                else torch.cat([q_rows[i] for i in idx])
            )
            res = cross.attn.core(qb, kv).split([sizes[i][0] for i in idx])
            for i, r in zip(idx, res, strict=True):
                out[i] = r
        return torch.cat(out)

    def forward(self, items: Sequence) -> list[torch.Tensor]:
        """Encode ``[Standardized or (B_i, T_i, W)]`` -> latents ``[(B_i, N, D)]`` in one pass."""
        sizes = [_size(item) for item in items]
        x = None
        for layer in self.layers:
            cross = layer["cross_attn"]
            kvs = [self._context(cross, item) for item in items]
            if x is None:
                # the latent array is the same for every row: normalise/project it once
                q = cross.attn.to_q(cross.norm(self.latents))
                x = self.latents + cross.attn.to_out(self._cross(cross, q, True, kvs, sizes))
            else:
                q = cross.attn.to_q(cross.norm(x))
                x = x + cross.attn.to_out(self._cross(cross, q, False, kvs, sizes))
            x = layer["cross_ff"](x)
            for attn, ff in layer["self_blocks"]:
                x = ff(attn(x))
        return list(x.split([b for b, _ in sizes]))
