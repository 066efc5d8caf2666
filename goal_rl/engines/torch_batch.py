r"""GOAL learning for a batch of independent spiking networks (torch, CPU or CUDA).

A :class:`GoalBatch` holds K independent networks (each with its own weights, rank R,
target timescale tau_star and random generator) that each run M trials sharing that
network's weights. Tensors are time-major: inputs ``(T, K, M, I)``, targets ``(T, K, M, O)``,
spikes ``(T, K, M, N)``. A single run is K = M = 1; a sweep is K > 1, M = 1; behavioural
cloning from several demonstration segments is K = 1, M > 1. Every network draws its
random numbers (initial weights, feedback columns) from its own NumPy generator, so the
networks of a batch give exactly what separate runs with the same seeds give.

The learning step after each network step (the rule of :mod:`goal_rl.engines.rule`, see
docs/model.md) is written as

.. math:: g = P_{t+1} - c\,\hat s - Q (Q^\top \hat s),\qquad
          W_{rec} \mathrel{+}= \eta\,(g \odot \sigma'(v))\, e^\top,\ \mathrm{diag}(W_{rec}) = 0

with ``P = D s̄*`` precomputed once per feedback draw: spike-level feedback has
``Q = B[:, :R]``, ``c = 0``; LTTS has ``Q = 0``, ``c = mean diag(B Bᵀ)``; output-level
feedback has ``Q = B'`` and ``P = B' Y*``. A rank-R feedback therefore costs two thin
products per step instead of an N×N one, and LTTS a scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from goal_rl.config import GoalConfig, check_rank
from goal_rl.engines.common import (
    History,
    convergence_epoch,
    draw_feedback,
    feedback_columns,
    init_weights,
    min_rank,
)
from goal_rl.engines.torch_chunked import ChunkedUpdates, error_into, slope_into
from goal_rl.engines.training import EpochLoop
from goal_rl.model.lif import LIFParams, exp_filter, filter_matrix

__all__ = ["GoalBatch", "History", "convergence_epoch", "feedback_columns", "init_weights",
           "torch_dtype"]

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def torch_dtype(name: str) -> torch.dtype:
    """``"float32"``/``"float64"`` → torch dtype."""
    return _TORCH_DTYPES[name]


class GoalBatch(ChunkedUpdates, EpochLoop):
    """K independent networks trained with GOAL; see the module docstring for shapes.

    Training (:meth:`train`, :meth:`train_recurrent`) comes from
    :class:`~goal_rl.engines.training.EpochLoop`, the chunked learning epoch from
    :class:`~goal_rl.engines.torch_chunked.ChunkedUpdates`.

    Args:
        cfg: shared settings (neuron constants, learning rates, feedback mode, readout fit).
        weights: one dict per network from :func:`init_weights`.
        ranks: per network, the feedback rank R or ``None`` for LTTS.
        tau_stars: per network, the target timescale in dt.
        rngs: per network, the NumPy generator used for feedback columns (and resampling).
        device, dtype: where and in what precision to compute (default: from ``cfg``).
        low_rank: also accept ``1 <= R < O`` (spike-level feedback only): the feedback is
            then the first R columns of ``W_outᵀ`` (see :func:`feedback_columns`).
        tau_os: per network, the readout (and internal-target readout) time constant in dt
            (``None``: ``cfg.tau_o`` for all). With equal values the networks share one
            filter, so results are exactly those of a batch built without it.
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
        tau_os: Sequence[float] | None = None,
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
        tau_os = [cfg.tau_o] * len(weights) if tau_os is None else list(tau_os)
        if len(tau_os) != len(weights) or not all(
                isinstance(t, int | float) and math.isfinite(t) and t > 0 for t in tau_os):
            raise ValueError(f"tau_os must be one positive number per network, got {tau_os!r}")
        self.tau_os = [float(t) for t in tau_os]
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
        if all(t == self.tau_os[0] for t in self.tau_os):  # one shared (T, T) kernel
            self._L_out = filter_matrix(T, math.exp(-1.0 / self.tau_os[0]), self.x_current)
        else:  # (K, T, T): each network's own readout filter
            self._L_out = torch.stack([filter_matrix(T, math.exp(-1.0 / t), self.x_current)
                                       for t in self.tau_os])

    # ---------------------------------------------------------------- simulation
    def simulate(self, current: Tensor, learn: dict | None = None,
                 out: Tensor | None = None) -> Tensor:
        """Run the networks from the initial state on ``current (T, K, M, N)`` (feed-forward
        plus any drive); with ``learn`` apply the online GOAL update in place to ``w_rec``
        and, with ``learn["eta_in"]``, the epoch's update to ``w_in`` (``current`` must then
        be ``x_current``). Returns the spikes ``(T, K, M, N)`` (written into ``out`` if given).

        A learning epoch writes every update into ``w_rec`` at once (:meth:`_simulate_per_step`)
        or buffers them in chunks (:meth:`_simulate_chunked`, for many weights; see
        :mod:`goal_rl.engines.torch_chunked`).
        """
        Z = out if out is not None else torch.empty_like(current)
        if learn is None:
            return self._free_run(current, Z)
        fold = self._update_every(current.shape[2], current.shape[0])
        if fold > 1:
            return self._simulate_chunked(current, learn, Z, fold)
        return self._simulate_per_step(current, learn, Z)

    def _free_run(self, current: Tensor, Z: Tensor) -> Tensor:
        """The LIF networks without learning (hot kernel: the step of
        :func:`goal_rl.model.lif.lif_step` fused into in-place torch operations)."""
        p = self.params
        bm, bs, theta = p.beta_m, p.beta_s, p.theta
        v = torch.full_like(current[0], p.v0)
        z = torch.zeros_like(v)
        s = torch.zeros_like(v)
        cur = torch.empty_like(v)
        Wt = self.w_rec.transpose(1, 2)
        heav0 = current.new_zeros(())
        for t in range(current.shape[0]):
            s.mul_(bs).add_(z, alpha=1 - bs)
            torch.baddbmm(current[t], s, Wt, out=cur)
            v.mul_(bm).add_(cur, alpha=1 - bm).add_(z, alpha=p.reset)
            z = Z[t]
            torch.heaviside(v - theta if theta else v, heav0, out=z)
        return Z

    def _simulate_per_step(self, current: Tensor, learn: dict, Z: Tensor) -> Tensor:
        """One learning epoch writing each step's update into ``w_rec`` (hot kernel: the LIF
        step and the rule of :mod:`goal_rl.engines.rule` fused into in-place operations)."""
        p = self.params
        bm, bs, theta = p.beta_m, p.beta_s, p.theta
        v = torch.full_like(current[0], p.v0)
        z, s, e, sh = (torch.zeros_like(v) for _ in range(4))
        cur, g, sp = torch.empty_like(v), torch.empty_like(v), torch.empty_like(v)
        W = self.w_rec
        Wt = W.transpose(1, 2)
        diag = W.diagonal(dim1=1, dim2=2)
        heav0 = current.new_zeros(())
        x_rows, ex, dwin = self._input_eligibility(learn)
        P, c, Q, bst, eta = learn["P"], learn["c"], learn["Q"], learn["beta_star"], learn["eta"]
        QT = Q.transpose(1, 2) if Q is not None else None
        bst_scalar = not isinstance(bst, Tensor)
        omb = 1 - bst
        for t in range(current.shape[0]):
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
            error_into(g, P[t], sh, Q, QT, c)
            slope_into(sp, v)
            g.mul_(sp)
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

    def internal_targets(self) -> Tensor:
        """Spikes of the untrained networks driven by the teacher, ``z* (T, K, M, N)``."""
        self.z_star = self.simulate(self.teacher_current)
        self.r_star = self._out_filter(self.z_star)
        return self.z_star

    # ---------------------------------------------------------------- readout
    def fit_readout(self) -> np.ndarray:
        """Fit ``w_out`` so that ``w_out r* ≈ y*`` (``r*`` the readout-filtered target spikes);
        returns the readout-limit MSE per network ``(K,)``. ``cfg.readout``: ``"ridge"`` solves
        the least-squares problem exactly (ridge ``cfg.ridge`` relative to the mean
        eigenvalue, as :func:`~goal_rl.engines.readout.relative_ridge`); ``"gd"`` runs
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
            q, c[k] = draw_feedback(w_out[k], rank, rng)
            if q is not None:
                Q[k, :, :rank] = q
        bst = self._per_net([math.exp(-1.0 / ts) for ts in self.tau_stars])
        # target trace s̄* (T, K, M, N) with each network's tau_star
        s_bar = exp_filter(self.z_star, bst)
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

    # ---------------------------------------------------------------- metrics
    def metrics(self, Z: Tensor) -> tuple[Tensor, Tensor]:
        """MSE ``(K,)`` (mean over T, M, O) and spike error ΔZ ``(K,)`` of a raster."""
        mse = ((self.output(Z) - self.y_star) ** 2).mean(dim=(0, 2, 3))
        dz = (Z - self.z_star).abs().sum(dim=(0, 2, 3))
        return mse, dz

    def output(self, Z: Tensor | None = None) -> Tensor:
        """Network output ``y (T, K, M, O)`` of a raster (default: the last free run)."""
        Z = self.z if Z is None else Z
        return self._out_filter(torch.matmul(Z, self.w_out.transpose(1, 2)))

    def _out_filter(self, a: Tensor) -> Tensor:
        """The readout filter (τ_o) along time of ``a (T, K, ...)``, as one kernel product
        (or one per network when their τ_o differ)."""
        if self._L_out.dim() == 2:
            return (self._L_out @ a.reshape(self.T, -1)).reshape(a.shape)
        K = a.shape[1]
        flat = a.reshape(self.T, K, -1).transpose(0, 1)  # (K, T, ·)
        return torch.bmm(self._L_out, flat).transpose(0, 1).reshape(a.shape)

    # ---------------------------------------------------------------- EpochLoop hooks
    def _empty_raster(self) -> Tensor:
        return torch.empty_like(self.x_current)

    def _metric_buffer(self, epochs: int) -> Tensor:
        return torch.zeros(epochs, self.K, dtype=torch.float64, device=self.device)

    def _to_numpy(self, a: Tensor) -> np.ndarray:
        return a.cpu().numpy()
