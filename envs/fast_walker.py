"""A faster ``BipedalWalker`` whose steps are bit-identical to Gymnasium's.

Gymnasium's :meth:`BipedalWalker.step` spends about a quarter of its time outside the
physics: eight ``np.clip`` calls on scalars (≈ 9 µs each through NumPy's dispatch) and
repeated attribute look-ups through the Box2D bindings; and its ten lidar rays, cast in
the physics world, call back into Python ≈ 23 times a step, ≈ 15 of them for the walker's
own legs, which the callback then ignores. :class:`FastBipedalWalker` overrides only
:meth:`step`, doing the same arithmetic in the same order and on the same types (NumPy
scalars of the action's dtype where Gymnasium has them), and casts the rays in a second
Box2D world that holds only copies of the terrain's edges (same float32 vertices, same
transform, so Box2D computes the same hit fractions and the nearest one wins in both).
After :meth:`reset` its contact listener sets the same flags as Gymnasium's (``game_over``
when the hull touches the ground, a lower leg's ``ground_contact`` on the last contact
event of that leg) with one pointer comparison per body instead of a dozen binding calls.
Observations, rewards and terminations are equal bit for bit (checked by the tests over
seeded episodes against ``gymnasium.make("BipedalWalker-v3")``). Physics, terrain,
resets and rendering are Gymnasium's own (when rendering, the rays are cast in the
physics world with Gymnasium's callbacks, which keep the ray ends render() draws).

Build it with :func:`make_walker` (or :func:`goal_rl.tasks.walker.pipeline.make_env`, which adds the
``reached_end`` info): ``gymnasium.make`` of the registered ``BipedalWalker-v3`` spec with
this class as entry point, so the id, time limit and reward threshold are Gymnasium's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import Box2D
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
# factors of Gymnasium's step, bound once (the same Python floats and int it computes)
_FPS_INT, _SCALE = _bw.FPS, _bw.SCALE
_VX, _VY = _bw.VIEWPORT_W / _bw.SCALE, _bw.VIEWPORT_H / _bw.SCALE
_COST = 0.00035 * _TORQUE  # torque cost per unit |action|


class _Contacts(_bw.ContactDetector):
    """Gymnasium's :class:`~gymnasium.envs.box2d.bipedal_walker.ContactDetector` with the
    same effects (hull contact → ``game_over``; a lower leg's ``ground_contact`` set on
    its contact's begin, cleared on an end), matching bodies by their Box2D pointers
    (``hash(body)``, what pybox2d's body equality compares). Built after the bodies."""

    def __init__(self, env: _bw.BipedalWalker) -> None:
        super().__init__(env)
        self.hull = hash(env.hull)
        self.feet = tuple((leg, hash(leg)) for leg in (env.legs[1], env.legs[3]))

    def _bodies(self, contact: Any) -> tuple[int, int]:
        return hash(contact.fixtureA.body), hash(contact.fixtureB.body)

    def BeginContact(self, contact: Any) -> None:
        bodies = self._bodies(contact)
        if self.hull in bodies:
            self.env.game_over = True
        for leg, key in self.feet:
            if key in bodies:
                leg.ground_contact = True

    def EndContact(self, contact: Any) -> None:
        bodies = self._bodies(contact)
        for leg, key in self.feet:
            if key in bodies:
                leg.ground_contact = False


class _NearestHit(Box2D.b2RayCastCallback):
    """Ray-cast callback of the terrain-only world: every fixture there is terrain, so
    each reported hit clips the ray; the last one reported is the nearest."""

    fraction = 1.0

    def ReportFixture(self, fixture: Any, point: Any, normal: Any, fraction: float) -> float:
        self.fraction = fraction
        return fraction


def _terrain_world(terrain: list[Any]) -> Box2D.b2World | None:
    """A static Box2D world holding copies of the lidar-visible (category bit 1) fixtures
    of ``terrain`` (Gymnasium's static terrain bodies), or ``None`` when one of them is
    not an edge of a body at the origin (the hardcore terrain's obstacles), for which the
    physics world is used."""
    defs = []
    for body in terrain:
        if tuple(body.position) != (0.0, 0.0) or body.angle != 0.0:
            return None
        for fixture in body.fixtures:
            if not fixture.filterData.categoryBits & 1:
                continue
            if not isinstance(fixture.shape, Box2D.b2EdgeShape):
                return None
            defs.append(Box2D.b2FixtureDef(shape=Box2D.b2EdgeShape(
                vertices=fixture.shape.vertices)))
    world = Box2D.b2World(gravity=(0, 0))
    world.CreateStaticBody(fixtures=defs)
    return world


class FastBipedalWalker(_bw.BipedalWalker):
    """:class:`gymnasium.envs.box2d.bipedal_walker.BipedalWalker` with a faster
    :meth:`step` (same results, bit for bit). Same constructor arguments."""

    _ray_terrain: list[Any] | None = None  # the terrain list _ray_world was built from
    _ray_world: Box2D.b2World | None = None
    _rays: tuple[_NearestHit, ...] = ()  # its callbacks, made once

    def _lidar(self, pos: Any, px: float, py: float) -> list[float]:
        """The ten lidar fractions (1.0: nothing within range) from hull position ``pos``
        (``px``, ``py`` its coordinates), as Gymnasium's step computes them."""
        render = self.render_mode is not None
        if not render and self._ray_terrain is not self.terrain:  # new terrain: rebuild
            self._ray_terrain = self.terrain
            self._ray_world = _terrain_world(self.terrain)
            if not self._rays:
                self._rays = tuple(_NearestHit() for _ in _RAYS)
        world, rays = self._ray_world, self._rays
        if render or world is None:
            # Gymnasium's callbacks in the physics world: they keep the ray ends render()
            # draws, and they see the obstacles of hardcore terrain
            world, rays = self.world, self.lidar
        cast = world.RayCast
        for cb, (dx, dy) in zip(rays, _RAYS):
            cb.fraction = 1.0
            p2 = (px + dx, py - dy)
            if render:  # the ray ends are only read by render()
                cb.p1 = pos
                cb.p2 = p2
            cast(cb, pos, p2)
        return [cb.fraction for cb in rays]

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Gymnasium's reset (new terrain and walker, one zero-action step), then the
        faster contact listener for the episode's steps."""
        out = super().reset(seed=seed, options=options)
        listener = _Contacts(self)
        self.world.contactListener_bug_workaround = listener  # keeps it alive (as Gymnasium)
        self.world.contactListener = listener
        return out

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
        lidar = self._lidar(pos, px, py)
        angle = hull.angle
        j0, j1, j2, j3 = joints
        state = [
            angle,
            2.0 * hull.angularVelocity / _FPS_INT,
            0.3 * vel.x * _VX / _FPS_INT,
            0.3 * vel.y * _VY / _FPS_INT,
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
        state += lidar

        self.scroll = px - _SCROLL
        shaping = 130 * px / _SCALE
        shaping -= 5.0 * abs(angle)
        reward: Any = 0
        if self.prev_shaping is not None:
            reward = shaping - self.prev_shaping
        self.prev_shaping = shaping
        for m in mag:
            reward -= _COST * m

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
