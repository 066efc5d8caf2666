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

from .config import GoalConfig, check_rank
from .core import History, convergence_epoch, feedback_columns, init_weights
from .lif import LIFParams, filter_matrix

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
    ) -> None:
        if not (len(weights) == len(ranks) == len(tau_stars) == len(rngs)) or not weights:
            raise ValueError("weights, ranks, tau_stars and rngs must be non-empty, equal length")
        self.cfg = cfg
        self.K = len(weights)
        self.device = torch.device(device if device is not None else cfg.device)
        self.dtype = dtype if dtype is not None else torch_dtype(cfg.dtype)
        self.params = LIFParams(cfg.tau_m, cfg.tau_s, cfg.tau_o, cfg.bias, cfg.v0, cfg.reset,
                                cfg.theta)
        self.ranks = [None if r is None else check_rank(r, cfg.n_out, cfg.n_rec) for r in ranks]
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
        # feed-forward current W_in x + b, (T, K, M, N)
        self.x_current = (torch.einsum("tkmi,kni->tkmn", self.x, self.w_in)
                          + self.cfg.bias).contiguous()
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
        plus any drive); with ``learn`` apply the online GOAL update in place to ``w_rec``.
        Returns the spikes ``(T, K, M, N)`` (written into ``out`` if given).
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
            w_out = torch.linalg.solve(A, Yr.transpose(1, 2)).transpose(1, 2)
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
                      "eta": self.cfg.eta}
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
