"""Button & Food: a 2-D reaching task that needs memory (the paper's Fig 4; see
docs/button_food.md)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["ButtonFoodEnv", "population_code"]


def population_code(values: np.ndarray, centres: np.ndarray, width: float) -> np.ndarray:
    """Encode each value with Gaussian tuning curves.

    Args:
        values: shape ``(K,)``, values to encode (not clipped here).
        centres: shape ``(M,)``, preferred values of the M tuning curves.
        width: standard deviation of each curve, same units as ``values``.

    Returns:
        shape ``(K * M,)`` float32: value 0's M responses, then value 1's, ...;
        response ``exp(-(x - c)^2 / (2 width^2))`` in ``(0, 1]``.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    c = np.asarray(centres, dtype=np.float64).reshape(1, -1)
    return np.exp(-((x - c) ** 2) / (2.0 * width * width)).astype(np.float32).reshape(-1)


class ButtonFoodEnv(gym.Env[np.ndarray, np.ndarray]):
    """Press a button to unlock the food, then reach the food.

    ## Description
    A point agent moves in a plane (arena units; the arena drawn spans [-1, 1]²). It
    starts at (0, 0). A button sits at (0, -0.2) and the food at 0.7·(cos θ, sin θ). The
    food is *locked* until the agent has come within ``unlock_radius`` (0.05) of the
    button; only then does approaching the food pay. The unlock state is not part of the
    observation, so a policy must remember whether it has already visited the button.
    This is the closed-loop memory task of Capone, Muratore & Paolucci (2022), Fig 4.

    ## Action Space
    ``Box(-10, 10, (2,), float32)``: a velocity (vx, vy). One step moves the agent by
    ``action * dt / dx`` arena units, with ``dt = 0.001`` s and ``dx = 0.1``, i.e. an
    action of 1 moves 0.01 arena units per step (the largest action moves 0.1 per step,
    per axis). Actions are clipped to the bounds; non-finite actions raise ``ValueError``.

    ## Observation Space
    ``Box(0, 1, (80,), float32)``. The vectors food − agent and button − agent (arena
    units) give four coordinates, in the order food-x, food-y, button-x, button-y. Each is
    clipped to [-1, 1] and encoded by 20 Gaussian tuning curves with centres
    ``linspace(-1, 1, 20)`` and width 0.1: ``exp(-(x - c)^2 / (2 · 0.1^2))``. Entries
    ``obs[20 k : 20 (k + 1)]`` encode coordinate k.

    ## Rewards
    0 per step while the food is locked. Once unlocked (including the unlocking step),
    ``1 / max(d, reward_floor_distance)`` where d is the distance from agent to food. The
    floor defaults to 0.03, the food radius, so reaching the food pays exactly
    1 / 0.03 ≈ 33.3 regardless of how far inside the radius the last step lands; pass
    ``reward_floor_distance=None`` for the raw ``1 / d`` (bounded by ``1 / 1e-6``).
    ``info["score"]`` is the largest reward so far in the episode, the paper's score.

    ## Starting State
    Agent at (0, 0), food locked. The food angle θ (degrees) is
    ``options["angle"]`` when given to ``reset``, else drawn uniformly from
    [``min_angle``, ``max_angle``] = [30, 150] with ``self.np_random``.

    ## Episode End
    Termination: the food is unlocked and the agent is within ``food_radius`` (0.03) of
    it. Truncation: 80 steps, through ``max_episode_steps=80`` of the registered id
    ``goal_rl/ButtonFood-v0`` (the bare class never truncates).

    ## Arguments
    ``gym.make("goal_rl.envs:goal_rl/ButtonFood-v0", render_mode="rgb_array")``, plus the
    keyword arguments below (all distances in arena units):

    * ``render_mode``: ``None`` or ``"rgb_array"`` (200 × 200 RGB, numpy only).
    * ``button_steps`` (30) and ``episode_steps`` (80): step budgets the expert plans with.
    * ``unlock_radius`` (0.05), ``food_radius`` (0.03), ``food_distance`` (0.7),
      ``button_position`` ((0, -0.2)), ``min_angle``/``max_angle`` (30/150 degrees),
      ``reward_floor_distance`` (0.03, the food radius; ``None`` disables the floor).

    ## Expert and hints
    :meth:`expert_action` labels any state: while locked it heads straight for the
    button, at the speed that covers the remaining distance by step ``button_steps``;
    once unlocked it heads straight for the food, arriving by step ``episode_steps``.
    From the start state this is the paper's constant-velocity expert (button in 30
    steps, then food); note that the button unlocks about 7 steps before its centre is
    reached, and the expert turns towards the food at that moment. :meth:`hint` is the
    one-hot phase (locked, unlocked) fed to the network only while generating targets.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    DT: float = 0.001
    """Time step, seconds."""
    DX: float = 0.1
    """Spatial scale: an action of 1 moves ``DT / DX`` arena units per step."""
    N_TUNING: int = 20
    """Tuning curves per coordinate."""
    TUNING_WIDTH: float = 0.1
    """Width (standard deviation) of each tuning curve, arena units."""
    MAX_SPEED: float = 10.0
    """Action bound (per component)."""

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        button_steps: int = 30,
        episode_steps: int = 80,
        unlock_radius: float = 0.05,
        food_radius: float = 0.03,
        food_distance: float = 0.7,
        button_position: tuple[float, float] = (0.0, -0.2),
        min_angle: float = 30.0,
        max_angle: float = 150.0,
        reward_floor_distance: float | None = 0.03,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not supported; use None or "
                             "'rgb_array'")
        if not 0 < button_steps < episode_steps:
            raise ValueError(f"need 0 < button_steps < episode_steps, got {button_steps}, "
                             f"{episode_steps}")
        for label, value in (("unlock_radius", unlock_radius), ("food_radius", food_radius),
                             ("food_distance", food_distance)):
            if not value > 0:
                raise ValueError(f"{label} must be > 0, got {value}")
        if not min_angle <= max_angle:
            raise ValueError(f"need min_angle <= max_angle, got {min_angle}, {max_angle}")
        if reward_floor_distance is not None and not reward_floor_distance > 0:
            raise ValueError(f"reward_floor_distance must be > 0 or None, got "
                             f"{reward_floor_distance}")
        self.render_mode = render_mode
        self.button_steps = int(button_steps)
        self.episode_steps = int(episode_steps)
        self.unlock_radius = float(unlock_radius)
        self.food_radius = float(food_radius)
        self.food_distance = float(food_distance)
        self.button = np.asarray(button_position, dtype=np.float64).reshape(2)
        self.min_angle = float(min_angle)
        self.max_angle = float(max_angle)
        self.reward_floor_distance = (None if reward_floor_distance is None
                                      else float(reward_floor_distance))
        self.step_scale = self.DT / self.DX
        self.centres = np.linspace(-1.0, 1.0, self.N_TUNING)

        self.action_space = spaces.Box(-self.MAX_SPEED, self.MAX_SPEED, shape=(2,),
                                       dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(4 * self.N_TUNING,),
                                            dtype=np.float32)

        # episode state (set properly by reset)
        self.agent = np.zeros(2)
        self.food = self.food_distance * np.array([0.0, 1.0])
        self.angle = 90.0
        self.unlocked = False
        self.score = 0.0
        self.t = 0
        self._canvas: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"angle": degrees}`` fixes the food angle.

        Returns:
            ``(observation (80,) float32, info)``.
        """
        super().reset(seed=seed)
        angle = None if options is None else options.get("angle")
        if angle is None:
            angle = float(self.np_random.uniform(self.min_angle, self.max_angle))
        else:
            angle = float(angle)
            if not np.isfinite(angle):
                raise ValueError(f"food angle must be finite, got {angle}")
        self.angle = angle
        rad = np.deg2rad(angle)
        self.food = self.food_distance * np.array([np.cos(rad), np.sin(rad)])
        self.agent = np.zeros(2)
        self.unlocked = False
        self.score = 0.0
        self.t = 0
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move by ``action * dt / dx``; unlock if near the button; pay ``1/d`` if unlocked.

        Returns:
            ``(observation (80,), reward, terminated, truncated=False, info)`` with info
            keys ``unlocked`` (bool), ``distance`` (agent–food, arena units), ``score``
            (max reward so far), ``angle`` (degrees) and ``t`` (steps taken).
        """
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(f"action must have 2 components, got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite, got {a}")
        a = np.clip(a, -self.MAX_SPEED, self.MAX_SPEED)
        self.agent = self.agent + a * self.step_scale
        self.t += 1
        if not self.unlocked and np.linalg.norm(self.button - self.agent) <= self.unlock_radius:
            self.unlocked = True
        distance = float(np.linalg.norm(self.food - self.agent))
        reward = 0.0
        if self.unlocked:
            floor = self.reward_floor_distance if self.reward_floor_distance is not None else 1e-6
            reward = 1.0 / max(distance, floor)
        self.score = max(self.score, reward)
        terminated = bool(self.unlocked and distance <= self.food_radius)
        return self._observation(), reward, terminated, False, self._info(distance)

    def render(self) -> np.ndarray | None:
        """Draw the arena as a ``(200, 200, 3)`` uint8 RGB array (``render_mode="rgb_array"``).

        Light background, grey border of the [-1, 1]² arena, button (red while locked,
        green after), food (grey while locked, orange after), agent (blue). Returns
        ``None`` when ``render_mode`` is ``None``.
        """
        if self.render_mode is None:
            return None
        size = 200
        if self._canvas is None:
            pix = (np.arange(size) + 0.5) / size * 2.0 - 1.0
            self._canvas = (pix[None, :].repeat(size, 0), pix[::-1, None].repeat(size, 1))
        xs, ys = self._canvas
        img = np.full((size, size, 3), 245, dtype=np.uint8)
        border = (np.abs(xs) > 0.985) | (np.abs(ys) > 0.985)
        img[border] = (160, 160, 160)
        px = 2.0 / size

        def disc(centre: np.ndarray, radius: float, colour: tuple[int, int, int]) -> None:
            r = max(radius, 2.5 * px)
            mask = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= r * r
            img[mask] = colour

        disc(self.button, self.unlock_radius, (60, 170, 60) if self.unlocked else (210, 50, 50))
        disc(self.food, self.food_radius, (240, 140, 20) if self.unlocked else (150, 150, 150))
        disc(self.agent, 0.03, (40, 80, 220))
        return img

    # ------------------------------------------------------------------ expert

    def expert_action(self) -> np.ndarray:
        """Expert velocity for the current state, shape ``(2,)`` float32.

        Locked: towards the button, covering the remaining distance in
        ``max(button_steps - t, 1)`` steps. Unlocked: towards the food in
        ``max(episode_steps - t, 1)`` steps. Components are scaled down together (the
        direction is kept) so none exceeds the action bound.
        """
        if self.unlocked:
            target, steps_left = self.food, max(self.episode_steps - self.t, 1)
        else:
            target, steps_left = self.button, max(self.button_steps - self.t, 1)
        velocity = (target - self.agent) / (steps_left * self.step_scale)
        peak = float(np.max(np.abs(velocity)))
        if peak > self.MAX_SPEED:
            velocity = velocity * (self.MAX_SPEED / peak)
        return velocity.astype(np.float32)

    def hint(self) -> np.ndarray:
        """One-hot phase, shape ``(2,)`` float32: ``[1, 0]`` locked, ``[0, 1]`` unlocked."""
        return np.array([0.0, 1.0] if self.unlocked else [1.0, 0.0], dtype=np.float32)

    # ------------------------------------------------------------------ helpers

    def _observation(self) -> np.ndarray:
        rel = np.concatenate([self.food - self.agent, self.button - self.agent])
        return population_code(np.clip(rel, -1.0, 1.0), self.centres, self.TUNING_WIDTH)

    def _info(self, distance: float | None = None) -> dict[str, Any]:
        if distance is None:
            distance = float(np.linalg.norm(self.food - self.agent))
        return {
            "unlocked": self.unlocked,
            "distance": distance,
            "score": self.score,
            "angle": self.angle,
            "t": self.t,
        }
