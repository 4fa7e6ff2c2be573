"""The table of actions and the clip builder: plan a clip (subject, tempo, phase, facing, nuisance,
joint angles), run the kinematics (batched over clips in :func:`synthesize`) and place the body on
the ground and along its path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haad.data.collection import Collection
from haad.data.synthetic.body import ANKLE_CLEARANCE, FOOT_CLEARANCE, IDX, TEMPLATE, Subject, make_subject
from haad.data.synthetic.gestures import clap, punch, reach, wave
from haad.data.synthetic.kinematics import forward_kinematics
from haad.data.synthetic.locomotion import run, turn, walk
from haad.data.synthetic.motion import Context, Motion, idle, stand, sway
from haad.data.synthetic.posture import bow, jump, kick, sit, squat
from haad.skeleton import SMPL24

FPS = 30.0
"""Frame rate of the synthetic clips (frames per second)."""

SYNTHETIC_ACTIONS: tuple[str, ...] = (
    "walk", "run", "jump", "squat", "wave", "reach", "punch", "clap", "bow", "kick", "turn", "sit",
)
"""Every action the synthesiser knows, in default label order (the protocol's unseen categories are
the last ceil(C / 4): kick, turn and sit for the full set)."""

# Clip lengths are drawn uniformly in MIN_FRAMES..MAX_FRAMES (some below the 60-frame window).
MIN_FRAMES = 45
MAX_FRAMES = 120


# name -> (builder, base cycle frequency in Hz, range of the starting phase in cycles, discrete).
# Repetitive actions start anywhere in their cycle. Discrete ones (jump, squat, reach, bow, kick)
# start near the neutral stance, as segmented recordings of an action do: a negative starting
# phase is a delay during which the subject stands still (the phase is held at 0).
ACTIONS = {
    "walk": (walk, 0.9, (0.0, 1.0), False),
    "run": (run, 1.35, (0.0, 1.0), False),
    "jump": (jump, 0.75, (-0.2, 0.1), True),
    "squat": (squat, 0.45, (-0.25, 0.1), True),
    "wave": (wave, 1.6, (0.0, 1.0), False),
    "reach": (reach, 0.5, (-0.25, 0.1), True),
    "punch": (punch, 1.1, (0.0, 1.0), False),
    "clap": (clap, 1.8, (0.0, 1.0), False),
    "bow": (bow, 0.4, (-0.2, 0.1), True),
    "kick": (kick, 0.6, (-0.3, 0.0), True),
    "turn": (turn, 1.1, (0.0, 1.0), False),
    "sit": (sit, 0.8, (0.0, 1.0), False),
}
assert tuple(ACTIONS) == SYNTHETIC_ACTIONS


@dataclass
class _Plan:
    """Everything about a clip except its forward kinematics."""

    offsets: np.ndarray  # (24, 3)
    angles: np.ndarray  # (T, 24, 3) radians
    heading: np.ndarray  # (T,) radians
    motion: Motion
    start: np.ndarray  # (2,) x, z
    scale: float
    fps: float
    rng: np.random.Generator


def _plan_clip(action: str, subject: Subject, rng: np.random.Generator, num_frames: int | None,
               yaw_range: float, left_prob: float, fps: float) -> _Plan:
    try:
        build, f0, (ph_lo, ph_hi), discrete = ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown synthetic action {action!r}; known: {list(SYNTHETIC_ACTIONS)}") from None
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1)) if num_frames is None else int(num_frames)
    if n < 1:
        raise ValueError(f"num_frames must be >= 1, got {n}")
    t = np.arange(n) / fps
    f = f0 * rng.uniform(0.8, 1.2)
    scale = float(np.linalg.norm(subject.offsets[IDX["left_knee"]]) / np.linalg.norm(TEMPLATE[IDX["left_knee"]]))
    cycles = f * t + rng.uniform(ph_lo, ph_hi)
    if discrete:
        cycles = np.maximum(cycles, 0.0)
    ctx = Context(
        ph=2.0 * np.pi * cycles,
        f=f,
        amp=rng.uniform(0.8, 1.2),
        left=bool(rng.random() < left_prob),
        subject=subject,
        scale=scale,
        rng=rng,
    )
    yaw0 = np.deg2rad(rng.uniform(-yaw_range, yaw_range))
    start = rng.uniform(-1.0, 1.0, size=2)
    m = Motion(t)
    stand(m, ctx)
    idle(m, ctx)
    build(m, ctx)
    angles = np.deg2rad(m.ang + sway(t, rng, 3.0))
    return _Plan(subject.offsets, angles, yaw0 + m.turn, m, start, scale, fps, rng)


def _finish_clip(plan: _Plan, pos: np.ndarray, noise_std: float) -> np.ndarray:
    """Place a pelvis-centred FK result (T, 24, 3) on the ground and along its path; add noise."""
    m, heading = plan.motion, plan.heading
    # Ground contact: the lowest of the heel (below the ankle) and toe (below the foot) points is on y = 0.
    feet = np.concatenate(
        [
            pos[:, [IDX["left_ankle"], IDX["right_ankle"]], 1] - ANKLE_CLEARANCE * plan.scale,
            pos[:, [IDX["left_foot"], IDX["right_foot"]], 1] - FOOT_CLEARANCE * plan.scale,
        ],
        axis=1,
    )
    root_y = -feet.min(axis=1) + m.lift
    # Horizontal root path: integrate the body-frame velocity along the current heading.
    fwd = np.stack([np.sin(heading), np.cos(heading)], -1)  # (x, z) of the facing direction
    left = np.stack([np.cos(heading), -np.sin(heading)], -1)  # (x, z) of the body's left
    vel = m.speed[:, None] * fwd + m.side_speed[:, None] * left
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], axis=0) / plan.fps], axis=0)
    path = path - m.back[:, None] * fwd + plan.start
    pos = pos + np.stack([path[:, 0], root_y, path[:, 1]], -1)[:, None, :]
    if noise_std > 0:
        pos += plan.rng.normal(0.0, noise_std, size=pos.shape)
    return pos.astype(np.float32)


def synthesize_clip(
    action: str,
    subject: Subject,
    rng: np.random.Generator,
    num_frames: int | None = None,
    noise_std: float = 0.01,
    yaw_range: float = 45.0,
    left_prob: float = 0.2,
    fps: float = FPS,
) -> np.ndarray:
    """One float32 (T, 24, 3) clip of ``action`` performed by ``subject`` (see :mod:`haad.data.synthetic`).

    ``synthesize`` draws the same clip from the same generator state (it only batches the
    kinematics of many clips).
    """
    plan = _plan_clip(action, subject, rng, num_frames, yaw_range, left_prob, fps)
    return _finish_clip(plan, forward_kinematics(plan.offsets, plan.angles, plan.heading), noise_std)


def synthesize(
    clips_per_class: int = 40,
    seed: int = 0,
    actions: tuple[str, ...] | None = None,
    noise_std: float = 0.01,
    n_subjects: int = 8,
    yaw_range: float = 45.0,
    left_prob: float = 0.2,
    fps: float = FPS,
) -> Collection:
    """The embedded synthetic dataset: ``clips_per_class`` clips of each action.

    Args:
        clips_per_class: clips of every action.
        seed: everything is a deterministic function of the seed (and of the action's name, so a
            subset of ``actions`` reproduces the same clips for those actions).
        actions: action names (subset / order of :data:`SYNTHETIC_ACTIONS`); label = position here.
        noise_std: standard deviation (metres) of iid Gaussian noise on every coordinate.
        n_subjects: number of synthetic performers; clips are assigned to them in order.
        yaw_range: facing yaw drawn uniformly in +-``yaw_range`` degrees (180 = any direction).
        left_prob: probability that a one-sided action (wave, reach, punch lead, kick) uses the left limb.
        fps: frame rate used to turn cycle frequencies into frames.

    Returns:
        A :class:`Collection` with float32 (T, 24, 3) clips (T in 45..120), the SMPL24 layout and
        ``order_keys`` = (subject, trial) and ``fps`` = ``fps``.
    """
    if clips_per_class < 1:
        raise ValueError(f"clips_per_class must be >= 1, got {clips_per_class}")
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be >= 1, got {n_subjects}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    actions = SYNTHETIC_ACTIONS if actions is None else tuple(actions)
    if len(actions) == 0:
        raise ValueError("no actions requested")
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown synthetic action(s) {unknown}; known: {list(SYNTHETIC_ACTIONS)}")
    if len(set(actions)) != len(actions):
        raise ValueError(f"duplicate actions in {list(actions)}")

    subjects = [make_subject(seed, s) for s in range(n_subjects)]
    plans, labels, keys, names = [], [], [], []
    for label, action in enumerate(actions):
        aid = SYNTHETIC_ACTIONS.index(action)
        trial_count: dict[int, int] = {}
        for i in range(clips_per_class):
            s = i * n_subjects // clips_per_class
            trial = trial_count.get(s, 0)
            trial_count[s] = trial + 1
            rng = np.random.default_rng([int(seed), aid, i])
            plans.append(_plan_clip(action, subjects[s], rng, None, yaw_range, left_prob, fps))
            labels.append(label)
            keys.append((s, trial))
            names.append(f"{action}_s{s:02d}_t{trial:02d}")
    # One forward-kinematics pass over the frames of every clip.
    lengths = [len(p.heading) for p in plans]
    pos = forward_kinematics(
        np.concatenate([np.broadcast_to(p.offsets, (n,) + p.offsets.shape) for p, n in zip(plans, lengths)]),
        np.concatenate([p.angles for p in plans]),
        np.concatenate([p.heading for p in plans]),
    )
    bounds = np.cumsum([0] + lengths)
    clips = [_finish_clip(p, pos[a:b], noise_std) for p, a, b in zip(plans, bounds[:-1], bounds[1:])]
    return Collection(
        clips=clips,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=list(actions),
        layout=SMPL24,
        order_keys=np.asarray(keys, dtype=np.int64),
        names=names,
        source="synthetic",
        fps=float(fps),
    )
