r"""GOAL learning (SPEC §2) for a batch of independent spiking networks.

A :class:`GoalBatch` holds K independent networks (each with its own weights, rank R,
target timescale tau_star and random generator) that each run M trials sharing that
network's weights. Tensors are time-major: inputs ``(T, K, M, I)``, targets ``(T, K, M, O)``,
spikes ``(T, K, M, N)``. A single run is K = M = 1; a sweep is K > 1, M = 1; behavioural
cloning from several demonstration segments is K = 1, M > 1. Every network draws its
random numbers (initial weights, feedback columns) from its own NumPy generator, so the
networks of a batch give exactly what separate runs with the same seeds give.

The learning step after each network step (SPEC §2.4) is written as

.. math:: g = P_{t+1} - c\,\hat s - Q (Q^\top \hat s),\qquad
          W_{rec} \mathrel{+}= \eta\,(g \odot \sigma'(v))\, e^\top,\ \mathrm{diag}(W_{rec}) = 0

with ``P = D s̄*`` precomputed once per feedback draw: spike-level feedback has
``Q = B[:, :R]``, ``c = 0``; LTTS has ``Q = 0``, ``c = mean diag(B Bᵀ)``; output-level
feedback has ``Q = B'`` and ``P = B' Y*``. A rank-R feedback therefore costs two thin
products per step instead of an N×N one, and LTTS a scale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from goal_rl.config import GoalConfig, check_rank
from goal_rl.engines.common import (
    History,
    convergence_epoch,
    feedback_columns,
    init_weights,
    min_rank,
)
from goal_rl.model.lif import LIFParams, filter_matrix

__all__ = ["GoalBatch", "History", "convergence_epoch", "feedback_columns", "init_weights",
           "torch_dtype"]

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def torch_dtype(name: str) -> torch.dtype:
    """``"float32"``/``"float64"`` → torch dtype."""
    return _TORCH_DTYPES[name]


class GoalBatch:
    """K independent networks trained with GOAL; see the module docstring for shapes.

    Args:
        cfg: shared settings (neuron constants, learning rates, feedback mode, readout fit).
        weights: one dict per network from :func:`init_weights`.
        ranks: per network, the feedback rank R or ``None`` for LTTS.
        tau_stars: per network, the target timescale in dt.
        rngs: per network, the NumPy generator used for feedback columns (and resampling).
        device, dtype: where and in what precision to compute (default: from ``cfg``).
        low_rank: also accept ``1 <= R < O`` (spike-level feedback only): the feedback is
            then the first R columns of ``W_outᵀ`` (see :func:`feedback_columns`).
    """

    def __init__(
        self,
        cfg: GoalConfig,
        weights: Sequence[dict[str, np.ndarray]],
        ranks: Sequence[int | None],
        tau_stars: Sequence[float],
        rngs: Sequence[np.random.Generator],
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        *,
        low_rank: bool = False,
    ) -> None:
        if not (len(weights) == len(ranks) == len(tau_stars) == len(rngs)) or not weights:
            raise ValueError("weights, ranks, tau_stars and rngs must be non-empty, equal length")
        self.cfg = cfg
        self.K = len(weights)
        self.device = torch.device(device if device is not None else cfg.device)
        self.dtype = dtype if dtype is not None else torch_dtype(cfg.dtype)
        self.params = LIFParams(cfg.tau_m, cfg.tau_s, cfg.tau_o, cfg.bias, cfg.v0, cfg.reset,
                                cfg.theta)
        lo = min_rank(cfg, low_rank)
        self.ranks = [None if r is None else check_rank(r, lo, cfg.n_rec) for r in ranks]
        for ts in tau_stars:
            if not (isinstance(ts, int | float) and math.isfinite(ts) and ts > 0):
                raise ValueError(f"tau_star must be a positive number, got {ts!r}")
        self.tau_stars = [float(t) for t in tau_stars]
        self.rngs = list(rngs)
        self.feedback = cfg.feedback
        if self.feedback == "out" and any(r is None for r in self.ranks):
            raise ValueError("output-level feedback ('out') needs a rank for every network")

        def stack(key: str) -> Tensor:
            return self._t(np.stack([w[key] for w in weights]))

        self.w_in = stack("w_in")  # (K, N, I)
        self.u = stack("u")  # (K, N, O)
        self.w_out = stack("w_out")  # (K, O, N)
        self.w_rec = stack("w_rec").contiguous()  # (K, N, N)
        self.w_hint = stack("w_hint") if "w_hint" in weights[0] else None
        self.n_rec = self.w_rec.shape[-1]
        self.z: Tensor | None = None  # last free-run raster (T, K, M, N)
        self.z_star: Tensor | None = None
        # steps between folds of the buffered weight updates (None: choose automatically,
        # 1: apply every update at once, the plain per-step path); see ``_update_every``
        self._fold_every: int | None = None
        # chunked path on the CPU: gather the products from the spikes (None) or use bmm (False)
        self._sparse_gather: bool | None = None
        self._fb_cache: tuple[tuple, Tensor] | None = None
        # spike-gather table of the chunked CPU path (rows [W_recᵀ | Dᵀ]), the
        # (data_ptr, version) of the w_rec it holds, the D it holds, a fold buffer
        self._G: Tensor | None = None
        self._G_w_of: tuple[int, int] | None = None
        self._G_d_of: Tensor | None = None
        self._fold_tmp: Tensor | None = None

    # ---------------------------------------------------------------- helpers
    def _t(self, a: np.ndarray | Tensor) -> Tensor:
        return torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a,
                               dtype=self.dtype, device=self.device)

    def _per_net(self, values: Sequence[float]) -> float | Tensor:
        """A float if all networks agree (faster), else a ``(K, 1, 1)`` tensor."""
        if all(v == values[0] for v in values):
            return float(values[0])
        return self._t(np.asarray(values, dtype=np.float64)).view(-1, 1, 1)

    # ---------------------------------------------------------------- task
    def set_task(self, x: np.ndarray | Tensor, y_star: np.ndarray | Tensor,
                 hints: np.ndarray | Tensor | None = None) -> None:
        """Set the task: inputs ``x (T, K|1, M, I)``, targets ``y_star (T, K|1, M, O)`` and
        optional hint inputs ``(T, K|1, M, H)`` used only while generating internal targets.
        """
        x, y = self._t(x), self._t(y_star)
        if x.dim() != 4 or y.dim() != 4:
            raise ValueError(f"x and y_star must be 4-D (T, K, M, ·), got {tuple(x.shape)} "
                             f"and {tuple(y.shape)}")
        if x.shape[-1] != self.w_in.shape[-1]:
            raise ValueError(f"x has {x.shape[-1]} inputs, network expects {self.w_in.shape[-1]}")
        if y.shape[-1] != self.w_out.shape[1]:
            raise ValueError(f"y_star has {y.shape[-1]} outputs, network has {self.w_out.shape[1]}")
        T, M = x.shape[0], x.shape[2]
        self.x = x.expand(T, self.K, M, -1)
        self.y_star = y.expand(T, self.K, M, -1).contiguous()
        self.x_current = self._feedforward()
        self.teacher_current = self.x_current + torch.einsum("tkmo,kno->tkmn", self.y_star, self.u)
        if hints is not None:
            if self.w_hint is None:
                raise ValueError("hints given but the networks have no hint weights")
            h = self._t(hints).expand(T, self.K, M, -1)
            self.teacher_current = self.teacher_current + torch.einsum(
                "tkmh,knh->tkmn", h, self.w_hint)
        self.T, self.M = T, M
        self._L_out = filter_matrix(T, self.params.beta_o, self.x_current)

    # ---------------------------------------------------------------- simulation
    def simulate(self, current: Tensor, learn: dict | None = None,
                 out: Tensor | None = None) -> Tensor:
        """Run the networks from the initial state on ``current (T, K, M, N)`` (feed-forward
        plus any drive); with ``learn`` apply the online GOAL update in place to ``w_rec``
        and, with ``learn["eta_in"]``, the epoch's update to ``w_in`` (``current`` must then
        be ``x_current``). Returns the spikes ``(T, K, M, N)`` (written into ``out`` if given).
        """
        p = self.params
        T = current.shape[0]
        Z = out if out is not None else torch.empty_like(current)
        bm, bs = p.beta_m, p.beta_s
        v = torch.full_like(current[0], p.v0)
        z = torch.zeros_like(v)
        s = torch.zeros_like(v)
        cur = torch.empty_like(v)
        W = self.w_rec
        Wt = W.transpose(1, 2)
        heav0 = current.new_zeros(())
        theta = p.theta
        if learn is None:
            for t in range(T):
                s.mul_(bs).add_(z, alpha=1 - bs)
                torch.baddbmm(current[t], s, Wt, out=cur)
                v.mul_(bm).add_(cur, alpha=1 - bm).add_(z, alpha=p.reset)
                z = Z[t]
                torch.heaviside(v - theta if theta else v, heav0, out=z)
            return Z
        fold = self._update_every(current.shape[2], T)
        if fold > 1:
            return self._simulate_chunked(current, learn, Z, fold)
        x_rows, ex, dwin = self._input_eligibility(learn)
        e = torch.zeros_like(v)
        sh = torch.zeros_like(v)
        P, c, Q = learn["P"], learn["c"], learn["Q"]
        QT = Q.transpose(1, 2) if Q is not None else None
        bst = learn["beta_star"]
        bst_scalar = not isinstance(bst, Tensor)
        omb = 1 - bst
        c_scalar = not isinstance(c, Tensor)
        eta = learn["eta"]
        diag = W.diagonal(dim1=1, dim2=2)
        gp_t = None
        for t in range(T):
            s.mul_(bs).add_(z, alpha=1 - bs)
            e.mul_(bm).add_(s, alpha=1 - bm)
            torch.baddbmm(current[t], s, Wt, out=cur)
            v.mul_(bm).add_(cur, alpha=1 - bm).add_(z, alpha=p.reset)
            z = Z[t]
            torch.heaviside(v - theta if theta else v, heav0, out=z)
            # target-timescale trace of the free-running spikes
            if bst_scalar:
                sh.mul_(bst).add_(z, alpha=omb)
            else:
                sh.mul_(bst).addcmul_(z, omb)
            # error signal g = P_t - c ŝ - Q Qᵀ ŝ
            if Q is not None:
                g = torch.baddbmm(P[t], torch.bmm(sh, Q), QT, alpha=-1.0)
            else:
                g = P[t].clone()
            if c is not None:
                if c_scalar:
                    g.sub_(sh, alpha=c)
                else:
                    g.addcmul_(sh, c, value=-1.0)
            # pseudo-derivative σ(v)(1-σ(v))
            sg = torch.sigmoid(v)
            g.mul_(torch.addcmul(sg, sg, sg, value=-1.0))
            gp_t = g.transpose(1, 2)
            W.baddbmm_(gp_t, e, alpha=eta)
            diag.zero_()
            if dwin is not None:
                ex.lerp_(x_rows[t], 1 - bm)
                dwin.baddbmm_(gp_t, ex)
        if dwin is not None:
            self._learn_inputs(dwin, learn["eta_in"])
        return Z

    def _input_eligibility(self, learn: dict) -> tuple[Sequence[Tensor], Tensor, Tensor] | \
            tuple[None, None, None]:
        """For input learning (``learn["eta_in"]`` > 0): the input rows ``x_t (K, M, I)``,
        a zero eligibility ``ε (K, M, I)`` and a zero update ``(K, N, I)``; else ``None`` s."""
        if not learn.get("eta_in", 0.0):
            return None, None, None
        return self.x.unbind(0), torch.zeros_like(self.x[0]), torch.zeros_like(self.w_in)

    def _learn_inputs(self, dwin: Tensor, eta_in: float) -> None:
        """``W_in += η_in Σ_t a_tᵀ ε_t`` (``dwin``, summed over the epoch, with the input
        eligibility ``ε_t = β_m ε_{t-1} + (1-β_m) x_t``), then refresh the feed-forward
        current ``x_current``."""
        self.w_in.add_(dwin, alpha=eta_in)
        self.x_current.copy_(self._feedforward())

    def _feedforward(self) -> Tensor:
        """Feed-forward current ``W_in x + b (T, K, M, N)`` of the task inputs."""
        return (torch.einsum("tkmi,kni->tkmn", self.x, self.w_in) + self.cfg.bias).contiguous()

    # ---------------------------------------------------------------- chunked online update
    #: fold the buffered updates into ``w_rec`` about every this many steps (measured on the
    #: 2-core CPU for K = 110, N = 150: 24–32 best, 16 ≈ 10 % slower, 8 ≈ 40 % slower; see
    #: benchmarks/sweep_speed.py); the chunks of an epoch are made equal (T = 150: 5 × 30)
    FOLD_EVERY = 32
    #: use the chunked path from this many recurrent weights (K·N²) on; below it the
    #: per-step update touches few enough weights to be cheaper than the bookkeeping
    #: (measured at N = 150: K = 4 per-step 39 vs chunked 41 µs/net-step, K = 10: 25 vs 19)
    CHUNK_MIN_WEIGHTS = 150_000

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
        r"""One learning epoch with the weight updates folded into ``w_rec`` every ``C`` steps.

        The update after step t is the rank-M product ``η a_tᵀ e_t`` with rows
        ``a_t = g_t ⊙ σ'(v_t)`` and ``e_t`` (each ``(K, M, N)``), followed by zeroing the
        diagonal. Within a chunk that started from weights ``W_0`` the rows are kept in
        buffers ``A``, ``E`` ``(K, C·M, N)`` and the recurrent current is

        .. math:: W_t s = W_0 s + η\,((s E^\top) A) - η\,(\textstyle\sum_k a_k ⊙ e_k) ⊙ s,

        the last term being the diagonal that the per-step path zeroes. At the end of a chunk
        (and of the epoch) ``W += η Aᵀ E`` and the diagonal is zeroed: the same weights as the
        per-step path up to rounding, while ``w_rec`` is read and written once per chunk
        instead of once per step.

        On the CPU the two large products of a step, ``W_0 s`` and ``D ŝ`` (the feedback
        as one matrix, see :meth:`_feedback_matrix`), are not computed from scratch: ``s``
        and ``ŝ`` are exponential traces of the binary spikes, so
        ``W_0 s_t = β_s W_0 s_{t-1} + (1-β_s) W_0 z_t`` (likewise for ``D ŝ``),
        and ``W_0 z``, ``D z`` are sums of the table rows (:meth:`_gather_table`) of the
        units that spiked (≈ 6 % of them), one ``embedding_bag`` per step: a few
        percent of the bytes of a dense batched product. When a chunk is folded, the two
        carried products are moved to the new weights with the same low-rank correction.
        On other devices the products are dense (``bmm``).

        Args:
            current: feed-forward current ``(T, K, M, N)``.
            learn: the dict of :meth:`build_feedback`.
            Z: output raster ``(T, K, M, N)``, filled in place and returned.
            C: steps per chunk (>= 2).
        """
        import torch.nn.functional as F

        p = self.params
        T, K, M, N = current.shape
        KM = K * M
        bm, bs = p.beta_m, p.beta_s
        theta, reset = p.theta, p.reset
        W = self.w_rec
        P, c = learn["P"], learn["c"]
        Q = learn["Q"]
        w_star = 1 - learn["beta_star"]  # float or (K, 1, 1)
        eta = learn["eta"]
        sparse = current.device.type == "cpu" and self._sparse_gather is not False
        # ------------------------------------------------------------ operators
        if sparse:
            D = self._feedback_matrix(learn)
            G, WT = self._gather_table(D)
            diag = WT.diagonal(dim1=1, dim2=2)
            tmp = self._fold_tmp
            if tmp is None or tmp.shape != WT.shape or tmp.dtype != WT.dtype:
                tmp = self._fold_tmp = torch.empty_like(WT)
            # The spike test and the list of spiking units run in NumPy on views of the same
            # memory: np.nonzero on a bool array takes ~10 µs for 16 500 units where
            # torch.nonzero takes ~35 µs and the bool → float copy another ~12 µs.
            mask = np.empty(current.shape[1:], dtype=bool)
            Z_np = Z.numpy()
            # spike (k, m, j) of the flattened raster → table row k·N + j
            rowmap = None
            if M > 1:
                rowmap = (np.arange(K).reshape(K, 1, 1) * N
                          + np.arange(N).reshape(1, 1, N)).repeat(M, axis=1).reshape(-1)
            bounds = np.arange(KM) * N  # first flat index of each bag
            yW = torch.zeros_like(current[0])  # W_0 s
            yD = torch.zeros_like(current[0]) if D is not None else None  # D ŝ
            wz = None  # W_0 z of the latest spikes (K, M, N)
            dzt = None  # D z of the latest spikes (K, M, N)
        else:
            D = None
            W0T = W.transpose(1, 2)
            diag = W.diagonal(dim1=1, dim2=2)
            # D = Q Qᵀ as one product reads fewer bytes than two thin ones when 2R > N
            if Q is not None and 2 * Q.shape[-1] > self.n_rec and not self.cfg.resample:
                D = self._feedback_matrix(learn)
        QT = Q.transpose(1, 2) if Q is not None and D is None else None
        c_apart = c is not None and D is None  # D holds c (LTTS) when it is used
        need_sh = not (sparse and D is not None)  # the sparse path carries D ŝ instead
        # ------------------------------------------------------------ state and buffers
        v = torch.full_like(current[0], p.v0)
        z = torch.zeros_like(v)
        s = torch.zeros_like(v)
        sh = torch.zeros_like(v)
        cur = torch.empty_like(v)
        g = torch.empty_like(v)
        sp = torch.empty_like(v)
        rows = C * M
        A = v.new_zeros((K, rows, N))  # rows g ⊙ σ'(v) of the current chunk
        E = v.new_zeros((K, rows, N))  # rows e (eligibility) of the current chunk
        dacc = v.new_zeros((K, 1, N))  # Σ a ⊙ e over the chunk: the diagonal to remove
        e_prev = torch.zeros_like(v)
        heav0 = current.new_zeros(())
        if sparse:
            v_np = v.numpy()
            mask_flat = mask.reshape(-1)
        x_rows, ex, dwin = self._input_eligibility(learn)
        # views used at every step, made once (slicing costs as much as a small op)
        cur_rows, P_rows, Z_rows = current.unbind(0), P.unbind(0), Z.unbind(0)
        e_rows = [E[:, i * M:(i + 1) * M] for i in range(C)]
        a_rows = [A[:, i * M:(i + 1) * M] for i in range(C)]
        E_head = [E[:, :i * M].transpose(1, 2) for i in range(C + 1)]
        A_head = [A[:, :i * M] for i in range(C + 1)]
        w_s, w_m = 1 - bs, 1 - bm
        j = 0  # step index within the chunk
        for t in range(T):
            # traces: s_t, then e_t written straight into the buffer
            s.lerp_(z, w_s)
            e_t = e_rows[j]
            torch.lerp(e_prev, s, w_m, out=e_t)
            e_prev = e_t
            # recurrent current W_0 s_t plus the chunk's pending updates
            if sparse:
                if wz is not None:
                    yW.lerp_(wz, w_s)
                torch.add(cur_rows[t], yW, out=cur)
            else:
                torch.baddbmm(cur_rows[t], s, W0T, out=cur)
            if j:
                coef = torch.bmm(s, E_head[j])  # (K, M, j·M)
                torch.baddbmm(cur, coef, A_head[j], alpha=eta, out=cur)
                cur.addcmul_(dacc, s, value=-eta)
            # membrane, spikes, target-timescale trace
            v.lerp_(cur, w_m).add_(z, alpha=reset)
            z = Z_rows[t]
            if sparse:
                np.greater(v_np, theta, out=mask)
                np.copyto(Z_np[t], mask)
                idx = mask_flat.nonzero()[0]
                offsets = torch.from_numpy(np.searchsorted(idx, bounds))
                if rowmap is not None:
                    idx = rowmap[idx]
                gz = F.embedding_bag(torch.from_numpy(idx), G, offsets,
                                     mode="sum").view(K, M, -1)
                wz = gz[..., :N]
                if D is not None:
                    dzt = gz[..., N:]
            else:
                torch.heaviside(v - theta if theta else v, heav0, out=z)
            if need_sh:
                sh.lerp_(z, w_star)
            # error signal g = P_t - c ŝ - Q Qᵀ ŝ
            if D is not None:
                if sparse:
                    yD.lerp_(dzt, w_star)
                    torch.sub(P_rows[t], yD, out=g)
                else:
                    torch.baddbmm(P_rows[t], sh, D, alpha=-1.0, out=g)
            elif QT is not None:
                torch.baddbmm(P_rows[t], torch.bmm(sh, Q), QT, alpha=-1.0, out=g)
            if c_apart:
                if Q is None:
                    if isinstance(c, Tensor):
                        torch.addcmul(P_rows[t], sh, c, value=-1.0, out=g)
                    else:
                        torch.add(P_rows[t], sh, alpha=-c, out=g)
                elif isinstance(c, Tensor):
                    g.addcmul_(sh, c, value=-1.0)
                else:
                    g.sub_(sh, alpha=c)
            # a_t = g ⊙ σ'(v), σ' = σ(v)(1 - σ(v))
            torch.sigmoid(v, out=sp)
            sp.addcmul_(sp, sp, value=-1.0)
            a_t = a_rows[j]
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
                At, Et = A_head[j], E_head[j]
                if sparse:
                    if t < T - 1:
                        # carry W_0 s_t and W_0 z_{t+1} over to the folded weights
                        X = torch.cat([s, z], dim=1)  # (K, 2M, N)
                        corr = torch.bmm(torch.bmm(X, Et), At)
                        corr.addcmul_(dacc, X, value=-1.0)
                        yW.add_(corr[:, :M], alpha=eta)
                        wz.add_(corr[:, M:], alpha=eta)
                    # Wᵀ += η Eᵀ A (a product into a buffer, then one add: faster on the CPU
                    # than an in-place baddbmm_, which loops over the batch)
                    WT.add_(torch.bmm(Et, At, out=tmp), alpha=eta)
                else:
                    W.baddbmm_(At.transpose(1, 2), Et.transpose(1, 2), alpha=eta)
                diag.zero_()
                dacc.zero_()
                j = 0
        if sparse:
            W.copy_(WT.transpose(1, 2))
            self._G_w_of = (W.data_ptr(), W._version)
        if dwin is not None:
            self._learn_inputs(dwin, learn["eta_in"])
        return Z

    def internal_targets(self) -> Tensor:
        """Spikes of the untrained networks driven by the teacher, ``z* (T, K, M, N)``."""
        self.z_star = self.simulate(self.teacher_current)
        self.r_star = (self._L_out @ self.z_star.reshape(self.T, -1)).reshape(self.z_star.shape)
        return self.z_star

    # ---------------------------------------------------------------- readout
    def fit_readout(self) -> np.ndarray:
        """Fit ``w_out`` so that ``w_out r* ≈ y*`` (SPEC §2.2); returns the readout-limit MSE
        per network ``(K,)``. ``cfg.readout``: ``"ridge"`` solves the least-squares problem
        exactly (ridge ``cfg.ridge`` relative to the mean eigenvalue); ``"gd"`` runs
        ``cfg.epochs_out`` full-batch gradient steps of size ``cfg.out_lr`` (summed over time).
        """
        r, y = self.r_star, self.y_star
        M = self.M
        C = torch.einsum("tkmn,tkmp->knp", r, r) / M  # (K, N, N)
        Yr = torch.einsum("tkmo,tkmn->kon", y, r) / M  # (K, O, N)
        if self.cfg.readout == "ridge":
            N = C.shape[-1]
            lam = self.cfg.ridge * torch.diagonal(C, dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
            A = C + lam.view(-1, 1, 1) * torch.eye(N, dtype=C.dtype, device=C.device)
            # Cholesky (A is symmetric positive definite): the batched LU solve of this
            # torch build hangs for N >= 150 once torch.set_num_threads(>= 2) was called
            chol = torch.linalg.cholesky(A)
            w_out = torch.cholesky_solve(Yr.transpose(1, 2), chol).transpose(1, 2)
        else:
            w_out = self.w_out.clone()
            lr = self.cfg.out_lr
            for _ in range(self.cfg.epochs_out):
                w_out -= lr * (torch.bmm(w_out, C) - Yr)
        self.w_out = w_out.contiguous()
        y_hat = torch.einsum("tkmn,kon->tkmo", r, self.w_out)
        return ((y_hat - y) ** 2).mean(dim=(0, 2, 3)).double().cpu().numpy()

    # ---------------------------------------------------------------- feedback
    def build_feedback(self) -> dict:
        """Draw the feedback of every network and precompute ``P``, ``c``, ``Q`` (see module
        docstring). Consumes each network's generator (again at every epoch with resample).
        """
        N, O = self.n_rec, self.w_out.shape[1]
        w_out = self.w_out.detach().double().cpu().numpy()
        r_max = max((r for r in self.ranks if r is not None), default=0)
        Q = np.zeros((self.K, N, r_max)) if r_max else None
        c = np.zeros(self.K)
        for k, (rank, rng) in enumerate(zip(self.ranks, self.rngs)):
            if rank is None:
                B = feedback_columns(w_out[k], N, rng)
                c[k] = float(np.mean(np.sum(B * B, axis=1)))
            else:
                Q[k, :, :rank] = feedback_columns(w_out[k], rank, rng)
        bst = self._per_net([math.exp(-1.0 / ts) for ts in self.tau_stars])
        # target trace s̄* (T, K, M, N) with each network's tau_star
        if isinstance(bst, float):
            s_bar = (filter_matrix(self.T, bst, self.z_star) @ self.z_star.reshape(self.T, -1)
                     ).reshape(self.z_star.shape)
        else:
            s_bar = torch.empty_like(self.z_star)
            acc = torch.zeros_like(self.z_star[0])
            for t in range(self.T):
                acc = bst * acc + (1 - bst) * self.z_star[t]
                s_bar[t] = acc
        Qt = self._t(Q) if Q is not None else None
        if self.feedback == "out":
            Y = torch.matmul(s_bar, Qt)  # (T, K, M, R): B'ᵀ s̄*
            Y[..., :O] = self.y_star
            P = torch.matmul(Y, Qt.transpose(1, 2))
        else:
            P = torch.matmul(torch.matmul(s_bar, Qt), Qt.transpose(1, 2)) if Qt is not None \
                else torch.zeros_like(s_bar)
        any_ltts = any(r is None for r in self.ranks)
        if any_ltts:
            c_t = self._per_net(list(c))
            P = P + (c_t * s_bar if isinstance(c_t, float) else c_t.unsqueeze(0) * s_bar)
        else:
            c_t = None
        self.learn = {"P": P.contiguous(), "c": c_t, "Q": Qt, "beta_star": bst,
                      "eta": self.cfg.eta, "eta_in": self.cfg.inp_lr}
        return self.learn

    # ---------------------------------------------------------------- training
    def metrics(self, Z: Tensor) -> tuple[Tensor, Tensor]:
        """MSE ``(K,)`` (mean over T, M, O) and spike error ΔZ ``(K,)`` of a raster."""
        y = (self._L_out @ torch.matmul(Z, self.w_out.transpose(1, 2)).reshape(self.T, -1)
             ).reshape(self.y_star.shape)
        mse = ((y - self.y_star) ** 2).mean(dim=(0, 2, 3))
        dz = (Z - self.z_star).abs().sum(dim=(0, 2, 3))
        return mse, dz

    def output(self, Z: Tensor | None = None) -> Tensor:
        """Network output ``y (T, K, M, O)`` of a raster (default: the last free run)."""
        Z = self.z if Z is None else Z
        return (self._L_out @ torch.matmul(Z, self.w_out.transpose(1, 2)).reshape(self.T, -1)
                ).reshape(self.y_star.shape)

    def train(self, epochs: int, progress: bool | Callable = True, desc: str = "GOAL") -> History:
        """Targets → readout → feedback → ``epochs`` online epochs. Returns a :class:`History`."""
        t0 = time.perf_counter()
        self.internal_targets()
        readout_mse = self.fit_readout()
        self.build_feedback()
        hist = self.train_recurrent(epochs, progress=progress, desc=desc)
        hist.readout_mse = readout_mse
        hist.wall_time_s = time.perf_counter() - t0
        return hist

    def train_recurrent(self, epochs: int, progress: bool | Callable = True,
                        desc: str = "GOAL") -> History:
        """Run ``epochs`` free-running epochs with the online update; metrics per epoch."""
        t0 = time.perf_counter()
        Z = torch.empty_like(self.x_current)
        mse_all = torch.zeros(epochs, self.K, dtype=torch.float64, device=self.device)
        dz_all = torch.zeros_like(mse_all)
        bar = None
        if progress is True:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs, desc=desc, unit="ep", dynamic_ncols=True, leave=True)
        every = max(1, epochs // 100)
        resample = self.cfg.resample
        for ep in range(epochs):
            if resample and ep > 0:
                self.build_feedback()
            self.simulate(self.x_current, learn=self.learn, out=Z)
            mse, dz = self.metrics(Z)
            mse_all[ep] = mse
            dz_all[ep] = dz
            if (ep + 1) % every == 0 or ep + 1 == epochs:
                if bar is not None:
                    bar.update(ep + 1 - bar.n)
                    bar.set_postfix(mse=f"{mse.mean().item():.4g}", dz=f"{dz.mean().item():.0f}")
                elif callable(progress):
                    progress(ep + 1, mse, dz)
        if bar is not None:
            bar.close()
        self.z = Z
        return History(readout_mse=np.zeros(self.K), mse=mse_all.cpu().numpy(),
                       dz=dz_all.cpu().numpy(), wall_time_s=time.perf_counter() - t0)
