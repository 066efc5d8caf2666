r"""The torch engine's chunked learning epoch: weight updates folded into ``W_rec`` in chunks.

The update after step t is the rank-M product ``η a_tᵀ e_t`` with rows
``a_t = g_t ⊙ σ'(v_t)`` and ``e_t`` (each ``(K, M, N)``), followed by zeroing the diagonal.
Within a chunk of C steps that started from weights ``W_0`` the rows are kept in buffers
``A``, ``E`` ``(K, C·M, N)`` and the recurrent current is

.. math:: W_t s = W_0 s + η\,((s E^\top) A) - η\,(\textstyle\sum_k a_k ⊙ e_k) ⊙ s,

the last term being the diagonal that the per-step path zeroes. At the end of a chunk (and
of the epoch) ``W += η Aᵀ E`` and the diagonal is zeroed: the same weights as the per-step
path up to rounding, while ``w_rec`` is read and written once per chunk instead of once per
step.

Two ways to form the two large products of a step, ``W_0 s`` and the feedback term:

* :class:`DenseProducts` (any device; CUDA): batched dense products (``bmm``), the
  feedback as ``Q (Qᵀ ŝ)`` or, when ``2R > N``, as one matrix ``D = Q Qᵀ`` (fewer bytes);
* :class:`SparseProducts` (CPU): ``s`` and ``ŝ`` are exponential traces of the binary
  spikes, so ``W_0 s_t = β_s W_0 s_{t-1} + (1-β_s) W_0 z_t`` (likewise ``D ŝ``), and
  ``W_0 z``, ``D z`` are sums of the rows of a table (:meth:`ChunkedUpdates._gather_table`)
  for the units that spiked (≈ 6 % of them), one ``embedding_bag`` per step: a few percent
  of the bytes of a dense product. When a chunk is folded, the two carried products are
  moved to the new weights with the same low-rank correction.

:class:`ChunkedUpdates` is a mixin of :class:`~goal_rl.engines.torch_batch.GoalBatch`; the
per-step and chunked paths are both tested against :mod:`goal_rl.engines.rule`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ChunkedUpdates", "DenseProducts", "SparseProducts", "error_into", "slope_into"]


def error_into(g: Tensor, P_t: Tensor, sh: Tensor, Q: Tensor | None, QT: Tensor | None,
               c: float | Tensor | None) -> None:
    """``g = P_t − ŝ Q Qᵀ − c ŝ`` (rows ``(K, M, N)``) in place: the error ``D (s̄* − ŝ)``
    with ``P = D s̄*`` precomputed. ``QT`` is ``Qᵀ`` (``None`` with ``Q``); ``c`` a float, a
    ``(K, 1, 1)`` tensor or ``None`` (no LTTS network)."""
    if QT is not None:
        torch.baddbmm(P_t, torch.bmm(sh, Q), QT, alpha=-1.0, out=g)
        if c is None:
            return
        if isinstance(c, Tensor):
            g.addcmul_(sh, c, value=-1.0)
        else:
            g.sub_(sh, alpha=c)
    elif isinstance(c, Tensor):
        torch.addcmul(P_t, sh, c, value=-1.0, out=g)
    else:
        torch.add(P_t, sh, alpha=-c, out=g)


def slope_into(sp: Tensor, v: Tensor) -> None:
    """``sp = σ(v)(1 − σ(v))``, the surrogate slope, in place."""
    torch.sigmoid(v, out=sp)
    sp.addcmul_(sp, sp, value=-1.0)


class _ChunkRows:
    """Row buffers of one chunk: ``A`` (rows ``g ⊙ σ'``) and ``E`` (eligibilities), each
    ``(K, C·M, N)``, ``dacc (K, 1, N)`` = Σ a ⊙ e (the diagonal to remove), and the views
    used at every step, made once (slicing costs as much as a small op)."""

    def __init__(self, like: Tensor, C: int, M: int) -> None:
        K, _, N = like.shape
        A = like.new_zeros((K, C * M, N))
        E = like.new_zeros((K, C * M, N))
        self.dacc = like.new_zeros((K, 1, N))
        self.e_rows = [E[:, i * M:(i + 1) * M] for i in range(C)]
        self.a_rows = [A[:, i * M:(i + 1) * M] for i in range(C)]
        self.E_head = [E[:, :i * M].transpose(1, 2) for i in range(C + 1)]
        self.A_head = [A[:, :i * M] for i in range(C + 1)]


class DenseProducts:
    """The step's products as dense batched products (any device)."""

    need_sh = True  # the error is formed from ŝ

    def __init__(self, net: Any, learn: dict) -> None:
        W = self.W = net.w_rec
        self.W0T = W.transpose(1, 2)
        self.diag = W.diagonal(dim1=1, dim2=2)
        self.Q, self.c = learn["Q"], learn["c"]
        self.D = None
        # D = Q Qᵀ as one product reads fewer bytes than two thin ones when 2R > N
        if self.Q is not None and 2 * self.Q.shape[-1] > net.n_rec and not net.cfg.resample:
            self.D = net._feedback_matrix(learn)
        self.QT = self.Q.transpose(1, 2) if self.Q is not None and self.D is None else None
        self.theta = net.params.theta
        self.heav0 = W.new_zeros(())

    def recurrent(self, cur: Tensor, cur_t: Tensor, s: Tensor) -> None:
        """``cur = cur_t + W_0 s``."""
        torch.baddbmm(cur_t, s, self.W0T, out=cur)

    def spikes(self, t: int, v: Tensor, z: Tensor) -> None:
        """``z = H(v − θ)`` (``z`` is row t of the raster)."""
        theta = self.theta
        torch.heaviside(v - theta if theta else v, self.heav0, out=z)

    def error(self, g: Tensor, P_t: Tensor, sh: Tensor, w_star: float | Tensor) -> None:
        """``g = P_t − D ŝ``."""
        if self.D is not None:
            torch.baddbmm(P_t, sh, self.D, alpha=-1.0, out=g)
        else:
            error_into(g, P_t, sh, self.Q, self.QT, self.c)

    def fold(self, At: Tensor, Et: Tensor, dacc: Tensor, eta: float, s: Tensor, z: Tensor,
             last: bool) -> None:
        """``W += η Aᵀ E`` (the caller zeroes the diagonal)."""
        self.W.baddbmm_(At.transpose(1, 2), Et.transpose(1, 2), alpha=eta)

    def finish(self) -> None:
        """Nothing to write back."""


class SparseProducts:
    """The step's products from the spikes: gathered table rows, carried as traces (CPU)."""

    def __init__(self, net: Any, learn: dict, current: Tensor, Z: Tensor, v: Tensor) -> None:
        _, K, M, N = current.shape
        self.net, self.K, self.M, self.N = net, K, M, N
        self.D = D = net._feedback_matrix(learn)
        self.c = learn["c"]
        self.eta = learn["eta"]
        self.G, self.WT = net._gather_table(D)
        self.diag = self.WT.diagonal(dim1=1, dim2=2)
        tmp = net._fold_tmp
        if tmp is None or tmp.shape != self.WT.shape or tmp.dtype != self.WT.dtype:
            tmp = net._fold_tmp = torch.empty_like(self.WT)
        self.tmp = tmp
        self.need_sh = D is None  # with D the error is carried as D ŝ instead
        self.w_s = 1 - net.params.beta_s
        self.theta = net.params.theta
        # The spike test and the list of spiking units run in NumPy on views of the same
        # memory: np.nonzero on a bool array takes ~10 µs for 16 500 units where
        # torch.nonzero takes ~35 µs and the bool → float copy another ~12 µs.
        self.mask = np.empty(current.shape[1:], dtype=bool)
        self.mask_flat = self.mask.reshape(-1)
        self.Z_np, self.v_np = Z.numpy(), v.numpy()
        # spike (k, m, j) of the flattened raster → table row k·N + j
        self.rowmap = None
        if M > 1:
            self.rowmap = (np.arange(K).reshape(K, 1, 1) * N
                           + np.arange(N).reshape(1, 1, N)).repeat(M, axis=1).reshape(-1)
        self.bounds = np.arange(K * M) * N  # first flat index of each bag
        self.yW = torch.zeros_like(current[0])  # W_0 s
        self.yD = torch.zeros_like(current[0]) if D is not None else None  # D ŝ
        self.wz: Tensor | None = None  # W_0 z of the latest spikes (K, M, N)
        self.dzt: Tensor | None = None  # D z of the latest spikes (K, M, N)

    def recurrent(self, cur: Tensor, cur_t: Tensor, s: Tensor) -> None:
        """``cur = cur_t + W_0 s`` with ``W_0 s`` advanced as a trace of ``W_0 z``."""
        if self.wz is not None:
            self.yW.lerp_(self.wz, self.w_s)
        torch.add(cur_t, self.yW, out=cur)

    def spikes(self, t: int, v: Tensor, z: Tensor) -> None:
        """Spikes into raster row t (``z``), then ``W_0 z`` and ``D z`` from the table."""
        mask = self.mask
        np.greater(self.v_np, self.theta, out=mask)
        np.copyto(self.Z_np[t], mask)
        idx = self.mask_flat.nonzero()[0]
        offsets = torch.from_numpy(np.searchsorted(idx, self.bounds))
        if self.rowmap is not None:
            idx = self.rowmap[idx]
        gz = F.embedding_bag(torch.from_numpy(idx), self.G, offsets,
                             mode="sum").view(self.K, self.M, -1)
        self.wz = gz[..., :self.N]
        if self.D is not None:
            self.dzt = gz[..., self.N:]

    def error(self, g: Tensor, P_t: Tensor, sh: Tensor, w_star: float | Tensor) -> None:
        """``g = P_t − D ŝ`` with ``D ŝ`` advanced as a trace of ``D z`` (LTTS alone: the
        scale)."""
        if self.D is not None:
            self.yD.lerp_(self.dzt, w_star)
            torch.sub(P_t, self.yD, out=g)
        else:
            error_into(g, P_t, sh, None, None, self.c)

    def fold(self, At: Tensor, Et: Tensor, dacc: Tensor, eta: float, s: Tensor, z: Tensor,
             last: bool) -> None:
        """``Wᵀ += η Eᵀ A``; within the epoch, carry ``W_0 s_t`` and ``W_0 z_{t+1}`` over to
        the folded weights (the caller zeroes the diagonal)."""
        M = self.M
        if not last:
            X = torch.cat([s, z], dim=1)  # (K, 2M, N)
            corr = torch.bmm(torch.bmm(X, Et), At)
            corr.addcmul_(dacc, X, value=-1.0)
            self.yW.add_(corr[:, :M], alpha=eta)
            self.wz.add_(corr[:, M:], alpha=eta)
        # a product into a buffer, then one add: faster on the CPU than an in-place
        # baddbmm_, which loops over the batch
        self.WT.add_(torch.bmm(Et, At, out=self.tmp), alpha=eta)

    def finish(self) -> None:
        """Write the table's ``W_recᵀ`` block back into ``w_rec`` and mark the table current."""
        W = self.net.w_rec
        W.copy_(self.WT.transpose(1, 2))
        self.net._G_w_of = (W.data_ptr(), W._version)


class ChunkedUpdates:
    """The chunked learning epoch of :class:`~goal_rl.engines.torch_batch.GoalBatch` (mixin).

    The host provides ``K``, ``n_rec``, ``w_rec``, ``params``, ``cfg``, the caches
    ``_fold_every``, ``_sparse_gather``, ``_fb_cache``, ``_G``, ``_G_w_of``, ``_G_d_of``,
    ``_fold_tmp`` (set in its constructor) and ``_input_eligibility``/``_learn_inputs``.
    """

    #: fold the buffered updates into ``w_rec`` about every this many steps (measured on the
    #: 2-core CPU for K = 110, N = 150: 24–32 best, 16 ≈ 10 % slower, 8 ≈ 40 % slower; see
    #: benchmarks/sweep_speed.py); the chunks of an epoch are made equal (T = 150: 5 × 30)
    FOLD_EVERY = 32
    #: use the chunked path from this many recurrent weights (K·N²) on; below it the
    #: per-step update touches few enough weights to be cheaper than the bookkeeping
    #: (measured at N = 150: K = 4 per-step 39 vs chunked 41 µs/net-step, K = 10: 25 vs 19)
    CHUNK_MIN_WEIGHTS = 150_000

    K: int
    n_rec: int
    w_rec: Tensor
    params: Any
    _fold_every: int | None
    _sparse_gather: bool | None
    _fb_cache: tuple[tuple, Tensor] | None
    _G: Tensor | None
    _G_w_of: tuple[int, int] | None
    _G_d_of: Tensor | None

    def _update_every(self, M: int, T: int | None = None) -> int:
        """Steps between writes into ``w_rec`` in a learning epoch of ``T`` steps with ``M``
        trials per network (1: every step, the plain path)."""
        if self._fold_every is not None:
            return max(1, int(self._fold_every))
        if self.K * self.n_rec ** 2 < self.CHUNK_MIN_WEIGHTS:
            return 1
        C = max(2, self.FOLD_EVERY // M)
        if T is not None:
            C = T if T <= C else math.ceil(T / round(T / C))
        return C

    def _feedback_matrix(self, learn: dict) -> Tensor | None:
        """The whole feedback as one matrix, ``D = Q Qᵀ + diag(c) (K, N, N)``, so that
        ``g = P_t − D ŝ`` (``None`` without rank feedback: LTTS alone is a scale). Cached for
        as long as ``learn["Q"]`` and ``learn["c"]`` are the same, unmodified tensors."""
        Q, c = learn["Q"], learn["c"]
        if Q is None:
            return None
        key = (Q, Q._version, c, c._version if isinstance(c, Tensor) else c)
        cache = self._fb_cache
        if cache is None or not all(a is b or not isinstance(a, Tensor) and a == b
                                    for a, b in zip(cache[0], key)):
            D = torch.bmm(Q, Q.transpose(1, 2))
            if c is not None:
                D.diagonal(dim1=1, dim2=2).add_(c.view(-1, 1) if isinstance(c, Tensor) else c)
            cache = self._fb_cache = (key, D)
        return cache[1]

    def _gather_table(self, D: Tensor | None) -> tuple[Tensor, Tensor]:
        """Row table ``G (K·N, N or 2N)`` for the spike-driven products: row ``k·N + j`` holds
        column j of network k's ``W_rec`` and, with rank feedback, column j of ``D``, so that
        ``W z`` and ``D z`` for a binary z are sums of the rows of the units that spiked.
        Returns ``G`` and its ``W_recᵀ`` block ``(K, N, N)`` (a view). The table persists
        between epochs; its ``W_recᵀ`` block is refreshed only when ``w_rec`` was changed
        outside :meth:`simulate`, its ``D`` block when the feedback changed.
        """
        K, N, W = self.K, self.n_rec, self.w_rec
        cols = N if D is None else 2 * N
        G = self._G
        if G is None or G.shape != (K * N, cols) or G.dtype != W.dtype or G.device != W.device:
            G = self._G = W.new_empty((K * N, cols))
            self._G_w_of = self._G_d_of = None
        G3 = G.view(K, N, cols)
        WT = G3[:, :, :N]
        if self._G_w_of != (W.data_ptr(), W._version):
            WT.copy_(W.transpose(1, 2))
        if D is not None and self._G_d_of is not D:
            G3[:, :, N:].copy_(D.transpose(1, 2))
            self._G_d_of = D
        return G, WT

    def _simulate_chunked(self, current: Tensor, learn: dict, Z: Tensor, C: int) -> Tensor:
        """One learning epoch with the weight updates folded into ``w_rec`` every ``C`` steps
        (hot kernel: the LIF step and the rule fused into in-place torch operations on
        preallocated buffers, one Python loop over time; the products that differ between
        CPU and other devices are the methods of :class:`SparseProducts` /
        :class:`DenseProducts`, see the module docstring).

        Args:
            current: feed-forward current ``(T, K, M, N)``.
            learn: the dict of ``build_feedback``.
            Z: output raster ``(T, K, M, N)``, filled in place and returned.
            C: steps per chunk (>= 2).
        """
        p = self.params
        T, M = current.shape[0], current.shape[2]
        w_s, w_m, reset = 1 - p.beta_s, 1 - p.beta_m, p.reset
        w_star = 1 - learn["beta_star"]  # float or (K, 1, 1)
        eta = learn["eta"]
        v = torch.full_like(current[0], p.v0)
        z, s, sh = torch.zeros_like(v), torch.zeros_like(v), torch.zeros_like(v)
        cur, g, sp = torch.empty_like(v), torch.empty_like(v), torch.empty_like(v)
        e_prev = torch.zeros_like(v)
        if current.device.type == "cpu" and self._sparse_gather is not False:
            ops: Any = SparseProducts(self, learn, current, Z, v)
        else:
            ops = DenseProducts(self, learn)
        rows = _ChunkRows(v, C, M)
        dacc = rows.dacc
        x_rows, ex, dwin = self._input_eligibility(learn)
        cur_rows, P_rows, Z_rows = current.unbind(0), learn["P"].unbind(0), Z.unbind(0)
        j = 0  # step index within the chunk
        for t in range(T):
            # traces: s_t, then e_t written straight into the buffer
            s.lerp_(z, w_s)
            e_t = rows.e_rows[j]
            torch.lerp(e_prev, s, w_m, out=e_t)
            e_prev = e_t
            # recurrent current W_0 s_t plus the chunk's pending updates
            ops.recurrent(cur, cur_rows[t], s)
            if j:
                coef = torch.bmm(s, rows.E_head[j])  # (K, M, j·M)
                torch.baddbmm(cur, coef, rows.A_head[j], alpha=eta, out=cur)
                cur.addcmul_(dacc, s, value=-eta)
            # membrane, spikes, target-timescale trace, error
            v.lerp_(cur, w_m).add_(z, alpha=reset)
            z = Z_rows[t]
            ops.spikes(t, v, z)
            if ops.need_sh:
                sh.lerp_(z, w_star)
            ops.error(g, P_rows[t], sh, w_star)
            # a_t = g ⊙ σ'(v)
            slope_into(sp, v)
            a_t = rows.a_rows[j]
            torch.mul(g, sp, out=a_t)
            if M == 1:
                dacc.addcmul_(a_t, e_t)
            else:
                dacc.add_((a_t * e_t).sum(dim=1, keepdim=True))
            if dwin is not None:
                ex.lerp_(x_rows[t], w_m)
                dwin.baddbmm_(a_t.transpose(1, 2), ex)
            j += 1
            if j == C or t == T - 1:
                ops.fold(rows.A_head[j], rows.E_head[j], dacc, eta, s, z, last=t == T - 1)
                ops.diag.zero_()
                dacc.zero_()
                j = 0
        ops.finish()
        if dwin is not None:
            self._learn_inputs(dwin, learn["eta_in"])
        return Z
