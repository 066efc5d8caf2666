"""A faster ``BipedalWalker`` whose steps are bit-identical to Gymnasium's.

Gymnasium's :meth:`BipedalWalker.step` spends about a quarter of its time outside the
physics: eight ``np.clip`` calls on scalars (≈ 9 µs each through NumPy's dispatch) and
repeated attribute look-ups through the Box2D bindings. :class:`FastBipedalWalker`
overrides only :meth:`step`, doing the same arithmetic in the same order and on the same
types (NumPy scalars of the action's dtype where Gymnasium has them), so observations,
rewards and terminations are equal bit for bit (checked by the tests over seeded episodes
against ``gymnasium.make("BipedalWalker-v3")``). Physics, terrain, resets, rendering and
the lidar callbacks are Gymnasium's own.

Build it with :func:`make_walker` (or :func:`goal_rl.walker.make_env`, which adds the
``reached_end`` info): ``gymnasium.make`` of the registered ``BipedalWalker-v3`` spec with
this class as entry point, so the id, time limit and reward threshold are Gymnasium's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.box2d import bipedal_walker as _bw

__all__ = ["FastBipedalWalker", "make_walker", "reached_end"]

WALKER_ID = "BipedalWalker-v3"

_FPS = float(_bw.FPS)
_HIP, _KNEE, _TORQUE = _bw.SPEED_HIP, _bw.SPEED_KNEE, _bw.MOTORS_TORQUE
# lidar ray ends relative to the hull position (the products Gymnasium computes each step)
_RAYS = tuple((math.sin(1.5 * i / 10.0) * _bw.LIDAR_RANGE,
               math.cos(1.5 * i / 10.0) * _bw.LIDAR_RANGE) for i in range(10))
# x of the finish line: past it the episode terminates (Gymnasium's condition)
_END_X = (_bw.TERRAIN_LENGTH - _bw.TERRAIN_GRASS) * _bw.TERRAIN_STEP
_SCROLL = _bw.VIEWPORT_W / _bw.SCALE / 5


class FastBipedalWalker(_bw.BipedalWalker):
    """:class:`gymnasium.envs.box2d.bipedal_walker.BipedalWalker` with a faster
    :meth:`step` (same results, bit for bit). Same constructor arguments."""

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        """One 1/50 s physics step. ``action (4,)`` in [−1, 1] (hip, knee, hip, knee;
        larger magnitudes are clipped) → ``(obs (24,) float32, reward, terminated, False,
        {})`` exactly as Gymnasium's ``BipedalWalker.step`` returns them."""
        assert self.hull is not None
        action = np.asarray(action)
        # |a| clipped to [0, 1] (abs is ≥ 0, so the lower bound never binds; NaN stays NaN),
        # as NumPy scalars of the action's dtype, exactly np.clip(np.abs(a), 0, 1)
        mag = list(np.minimum(np.abs(action), 1))
        sign = np.sign(action).tolist()
        joints = self.joints
        for j, speed in enumerate((_HIP, _KNEE, _HIP, _KNEE)):
            joints[j].motorSpeed = float(speed * sign[j])
            joints[j].maxMotorTorque = float(_TORQUE * mag[j])

        world = self.world
        world.Step(1.0 / _FPS, 6 * 30, 2 * 30)

        hull = self.hull
        pos = hull.position
        vel = hull.linearVelocity
        px, py = pos[0], pos[1]
        render = self.render_mode is not None
        lidar = self.lidar
        for cb, (dx, dy) in zip(lidar, _RAYS):
            cb.fraction = 1.0
            p2 = (px + dx, py - dy)
            if render:  # the ray ends are only read by render()
                cb.p1 = pos
                cb.p2 = p2
            world.RayCast(cb, pos, p2)

        angle = hull.angle
        j0, j1, j2, j3 = joints
        state = [
            angle,
            2.0 * hull.angularVelocity / _bw.FPS,
            0.3 * vel.x * (_bw.VIEWPORT_W / _bw.SCALE) / _bw.FPS,
            0.3 * vel.y * (_bw.VIEWPORT_H / _bw.SCALE) / _bw.FPS,
            j0.angle,
            j0.speed / _HIP,
            j1.angle + 1.0,
            j1.speed / _KNEE,
            1.0 if self.legs[1].ground_contact else 0.0,
            j2.angle,
            j2.speed / _HIP,
            j3.angle + 1.0,
            j3.speed / _KNEE,
            1.0 if self.legs[3].ground_contact else 0.0,
        ]
        state += [cb.fraction for cb in lidar]

        self.scroll = px - _SCROLL
        shaping = 130 * px / _bw.SCALE
        shaping -= 5.0 * abs(angle)
        reward: Any = 0
        if self.prev_shaping is not None:
            reward = shaping - self.prev_shaping
        self.prev_shaping = shaping
        for m in mag:
            reward -= 0.00035 * _TORQUE * m

        terminated = False
        if self.game_over or px < 0:
            reward = -100
            terminated = True
        if px > _END_X:
            terminated = True
        if self.render_mode == "human":
            self.render()
        return np.array(state, dtype=np.float32), reward, terminated, False, {}


def make_walker(render_mode: str | None = None, fast: bool = True) -> gym.Env:
    """``gymnasium.make("BipedalWalker-v3")`` built on :class:`FastBipedalWalker`
    (``fast=False``: on Gymnasium's own class), with the registered wrappers (1,600-step
    time limit, order enforcing, env checker)."""
    spec = gym.spec(WALKER_ID)
    if fast:
        spec = dataclasses.replace(spec, entry_point=FastBipedalWalker)
    kwargs = {} if render_mode is None else {"render_mode": render_mode}
    return gym.make(spec, **kwargs)


def reached_end(env: gym.Env, terminated: bool) -> bool:
    """Whether a step of ``env`` (either walker class, wrapped or not) that returned
    ``terminated`` ended the episode at the finish line: the hull is past the end of the
    terrain and the walker did not fall."""
    if not terminated:
        return False
    base = env.unwrapped
    return not base.game_over and float(base.hull.position[0]) > _END_X
