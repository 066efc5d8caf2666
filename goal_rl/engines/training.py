"""The training schedule both GOAL engines share: targets → readout → feedback → epochs.

:class:`EpochLoop` drives the epochs, the progress bar or callback and the
:class:`~goal_rl.engines.common.History`; an engine supplies the steps (``internal_targets``,
``fit_readout``, ``build_feedback``, ``simulate``, ``metrics``) and three small hooks for its
array library (an empty raster, a metric buffer, a conversion to NumPy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from goal_rl.engines.common import History

__all__ = ["EpochLoop"]


class EpochLoop:
    """``train`` and ``train_recurrent`` for an engine of ``K`` networks (mixin).

    The engine provides ``cfg`` (for ``resample``), ``x_current``, ``learn`` (after
    ``build_feedback``) and the methods named in the module docstring; after
    :meth:`train_recurrent`, ``z`` holds the raster of the last epoch.
    """

    K: int
    cfg: Any
    x_current: Any
    learn: dict
    z: Any

    # ---------------------------------------------------------------- hooks
    def _empty_raster(self) -> Any:
        """An uninitialised raster shaped like ``x_current``."""
        raise NotImplementedError

    def _metric_buffer(self, epochs: int) -> Any:
        """Zeros ``(epochs, K)`` float64 for the per-epoch MSE or ΔZ."""
        raise NotImplementedError

    def _to_numpy(self, a: Any) -> np.ndarray:
        """A metric buffer as a NumPy array."""
        raise NotImplementedError

    # ---------------------------------------------------------------- schedule
    def train(self, epochs: int, progress: bool | Callable = True, desc: str = "GOAL"
              ) -> History:
        """Targets → readout → feedback → ``epochs`` online epochs. Returns a
        :class:`History` (``readout_mse (K,)``, ``mse``/``dz (epochs, K)``, wall time)."""
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
        """``epochs`` free-running epochs with the online update; metrics per epoch.

        ``progress``: ``True`` shows a tqdm bar, a callable is called as ``progress(epoch,
        mse, dz)`` about 100 times (``mse``, ``dz`` per network), ``False`` is silent. With
        ``cfg.resample`` the feedback is redrawn before every epoch but the first.
        """
        t0 = time.perf_counter()
        Z = self._empty_raster()
        mse_all = self._metric_buffer(epochs)
        dz_all = self._metric_buffer(epochs)
        bar = None
        if progress is True:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs, desc=desc, unit="ep", dynamic_ncols=True)
        every = max(1, epochs // 100)
        for ep in range(epochs):
            if self.cfg.resample and ep > 0:
                self.build_feedback()
            self.simulate(self.x_current, learn=self.learn, out=Z)
            mse, dz = self.metrics(Z)
            mse_all[ep] = mse
            dz_all[ep] = dz
            if (ep + 1) % every == 0 or ep + 1 == epochs:
                if bar is not None:
                    bar.update(ep + 1 - bar.n)
                    bar.set_postfix(mse=f"{float(mse.mean()):.4g}", dz=f"{float(dz.mean()):.0f}")
                elif callable(progress):
                    progress(ep + 1, mse, dz)
        if bar is not None:
            bar.close()
        self.z = Z
        return History(readout_mse=np.zeros(self.K), mse=self._to_numpy(mse_all),
                       dz=self._to_numpy(dz_all), wall_time_s=time.perf_counter() - t0)
