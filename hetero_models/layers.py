"""Attention and feed-forward building blocks (pre-norm, as in the HighMMT release).

* :class:`Attention`: bias-free query and key/value projections, biased output projection,
  :func:`torch.nn.functional.scaled_dot_product_attention` for the attention itself.
* :class:`CrossAttentionBlock`: LayerNorm on the queries *and* on the context, attention,
  residual.
* :class:`SelfAttentionBlock`, :class:`FeedForwardBlock`: LayerNorm, sub-layer, residual.
* :class:`FeedForward`: ``Linear(d, 8d) -> GEGLU -> Linear(4d, d)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GEGLU",
    "Attention",
    "CrossAttentionBlock",
    "FeedForward",
    "FeedForwardBlock",
    "SelfAttentionBlock",
]


class GEGLU(nn.Module):
    """``a * gelu(b)`` where ``a, b`` are the two halves of the last axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gates = x.chunk(2, dim=-1)
        return a * F.gelu(gates)


class FeedForward(nn.Module):
    """GEGLU feed-forward with hidden width ``mult * dim``:
    ``Linear(dim, 2 * mult * dim) -> GEGLU -> Linear(mult * dim, dim)``.

    The two halves of the first projection are computed from the two halves of its weight
    (the same numbers as chunking the output, without copying activations in backward).
    """

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, dim * mult * 2), GEGLU(), nn.Linear(dim * mult, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj, out = self.net[0], self.net[2]
        hidden = proj.out_features // 2
        a = F.linear(x, proj.weight[:hidden], proj.bias[:hidden])
        gates = F.linear(x, proj.weight[hidden:], proj.bias[hidden:])
        return out(a * F.gelu(gates))


class Attention(nn.Module):
    """Multi-head attention with separate query and key/value projections.

    Parameters
    ----------
    query_dim : int
        Width of the queries (and of the output).
    context_dim : int, optional
        Width of keys/values; defaults to ``query_dim`` (self-attention).
    heads, dim_head : int
        Number of heads and width of each.
    """

    def __init__(
        self, query_dim: int, context_dim: int | None = None, heads: int = 8, dim_head: int = 64
    ):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_kv = nn.Linear(context_dim or query_dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, query_dim)

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """``(B, L, h*d) -> (B, h, L, d)``."""
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.dim_head).transpose(1, 2)

    def core(
        self, q: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attention from projected queries ``q (B, Lq, h*d)`` to projected ``kv (B, Lk, 2h*d)``,
        before the output projection: returns ``(B, Lq, h*d)``.

        ``mask`` is boolean ``(B, Lk)`` (True = attend) or None.
        """
        k, v = kv.chunk(2, dim=-1)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        attn_mask = None if mask is None else mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        b, h, n, d = out.shape
        return out.transpose(1, 2).reshape(b, n, h * d)

    def attend(
        self, q: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`core` followed by the output projection: ``(B, Lq, query_dim)``."""
        return self.to_out(self.core(q, kv, mask))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        context = x if context is None else context
        return self.attend(self.to_q(x), self.to_kv(context), mask)

    @property
    def foldable(self) -> bool:
        """Whether :meth:`folded_weights` saves work: the per-head width is at least the
        query and context widths, so projecting keys and values is the expensive way."""
        return max(self.to_q.in_features, self.to_kv.in_features) <= self.dim_head

    def folded_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention with the key and value projections folded into the others.

        Per head ``h``, ``q_h . k_j = (W_k,h^T W_q,h x) . c_j`` and
        ``W_o,h (sum_j a_j W_v,h c_j) = (W_o,h W_v,h) (sum_j a_j c_j)``: attending with
        folded queries ``W_fq x`` directly over the (normalised) context, and projecting the
        result with ``W_fo``, gives the same output without projecting any key or value.
        All heads then share the context as keys and values, so the attention of every
        head is one batched matrix product.

        Returns
        -------
        w_q : Tensor ``(heads * context_dim, query_dim)``
            Folded query weights, including the ``dim_head ** -0.5`` score scaling.
        w_o : Tensor ``(query_dim, heads * context_dim)``
        """
        h, dh = self.heads, self.dim_head
        wq = self.to_q.weight.view(h, dh, -1)  # (H, dh, Dq)
        wk, wv = self.to_kv.weight.view(2, h, dh, -1).unbind(0)  # (H, dh, Dc) each
        wo = self.to_out.weight.view(-1, h, dh)  # (Dq, H, dh)
        w_q = torch.einsum("hed,hef->hfd", wq * dh**-0.5, wk).reshape(-1, wq.shape[-1])
        w_o = torch.einsum("qhe,hef->qhf", wo, wv).reshape(wo.shape[0], -1)
        return w_q, w_o

    def attend_folded(
        self,
        q: torch.Tensor,
        context: torch.Tensor,
        w_o: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attention output from folded queries ``q (B, Lq, h*Dc)`` (``x @ w_q.T``) over the
        normalised ``context (B, Lk, Dc)``; equals :meth:`attend` of the plain projections.

        The heads share keys and values (the context itself), so scores and outputs of all
        heads and queries are two batched matrix products, ``(B, Lq*h, Dc) @ (B, Dc, Lk)``
        and ``(B, Lq*h, Lk) @ (B, Lk, Dc)``, with no per-head copies of the context.
        """
        b, n, _ = q.shape
        dc = context.shape[-1]
        scores = torch.bmm(q.reshape(b, n * self.heads, dc), context.transpose(1, 2))
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        out = torch.bmm(scores.softmax(-1).to(context.dtype), context)
        merged = out.reshape(b, n, self.heads * dc)
        return F.linear(merged, w_o.to(merged.dtype), self.to_out.bias)


class CrossAttentionBlock(nn.Module):
    """Pre-norm cross-attention ``x + Attn(LN(x), LN_ctx(context))``."""

    def __init__(self, dim: int, context_dim: int, heads: int = 1, dim_head: int = 64):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(context_dim)
        self.attn = Attention(dim, context_dim, heads=heads, dim_head=dim_head)

    def project_context(self, context: torch.Tensor) -> torch.Tensor:
        """Keys and values of ``context`` (``(..., context_dim) -> (..., 2h*d)``)."""
        return self.attn.to_kv(self.norm_context(context))

    def project_parts(self, x: torch.Tensor, suffix: torch.Tensor, width: int) -> torch.Tensor:
        """Keys and values of standardised tokens given by their non-zero parts.

        Exactly :meth:`project_context` of ``[x | zeros | suffix]`` (width ``width``) but
        without building the wide token tensor: LayerNorm statistics are summed over the
        non-zero parts, and the per-position ``suffix`` (positional encoding + one-hot) is
        projected once per position rather than once per sample.

        Parameters
        ----------
        x : Tensor ``(B, T, c)``
            Input channels.
        suffix : Tensor ``(T, S)``
            Per-position tail of every token.
        width : int
            Full token width (``>= c + S``).
        """
        ln, weight = self.norm_context, self.attn.to_kv.weight  # weight: (2hd, width)
        c, s = x.shape[-1], suffix.shape[-1]
        g = weight * ln.weight  # fold the LayerNorm gain into the projection
        suffix = suffix.to(x.dtype)
        s_sum, s_sq = suffix.sum(-1), suffix.square().sum(-1)  # (T,)
        mu = (x.sum(-1) + s_sum) / width  # (B, T)
        var = (
            (x - mu.unsqueeze(-1)).square().sum(-1)
            + s_sq
            - 2 * mu * s_sum
            + (width - c) * mu.square()
        ) / width
        rstd = torch.rsqrt(var.clamp_min(0) + ln.eps).unsqueeze(-1)
        proj = x @ g[:, :c].t().to(x.dtype)
        if s:
            proj = proj + suffix @ g[:, width - s :].t().to(x.dtype)
        return rstd * (proj - mu.unsqueeze(-1) * g.sum(1)) + weight @ ln.bias

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        attn = self.attn
        if attn.foldable:
            w_q, w_o = attn.folded_weights()
            q = F.linear(self.norm(x), w_q)
            return x + attn.attend_folded(q, self.norm_context(context), w_o, mask)
        return x + attn.attend(attn.to_q(self.norm(x)), self.project_context(context), mask)


class SelfAttentionBlock(nn.Module):
    """Pre-norm self-attention ``x + Attn(LN(x))``.

    With ``last_only=True`` only the last position is computed (its keys/values still come
    from every position): used where only the last latent vector is read out.
    """

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads=heads, dim_head=dim_head)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        h = self.norm(x)
        if last_only:
            return x[:, -1:] + self._last(h)
        attn = self.attn
        if attn.foldable:
            w_q, w_o = attn.folded_weights()
            return x + attn.attend_folded(F.linear(h, w_q), h, w_o)
        return x + attn.attend(attn.to_q(h), attn.to_kv(h))

    def _last(self, h: torch.Tensor) -> torch.Tensor:
        """Attention output of the last position only, ``(R, 1, D)``.

        With one query per row it is cheaper to move the (bias-free) key and value
        projections to the query side than to project every position: the scores are
        ``h_j . (W_k^T q)`` and the output ``W_v (sum_j a_j h_j)`` -- the same numbers as
        projecting all keys and values, with ``O(D * h * d)`` instead of ``O(N * D * h * d)``
        work per row.
        """
        attn = self.attn
        heads, dh = attn.heads, attn.dim_head
        r, _, d = h.shape
        q = attn.to_q(h[:, -1]).view(r, heads, dh)  # (R, H, dh)
        w_k, w_v = attn.to_kv.weight.view(2, heads, dh, d).unbind(0)  # (H, dh, D) each
        qk = torch.einsum("rhe,hed->rhd", q, w_k.to(q.dtype)) * dh**-0.5  # (R, H, D)
        scores = torch.bmm(qk, h.transpose(1, 2))  # (R, H, N)
        ctx = torch.bmm(scores.softmax(-1), h)  # (R, H, D)
        out = torch.einsum("rhd,hed->rhe", ctx, w_v.to(ctx.dtype))  # (R, H, dh)
        return attn.to_out(out.reshape(r, 1, heads * dh))


class FeedForwardBlock(nn.Module):
    """Pre-norm feed-forward ``x + FF(LN(x))``."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ff(self.norm(x))
