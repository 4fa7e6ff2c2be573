"""Actions that step: walk, run and turn (one shared gait)."""

from __future__ import annotations

import numpy as np

from haad.data.synthetic.motion import Context, Motion, arms_free, relu


def gait(m: Motion, c: Context, hip: float, knee: float, arm: float, elbow: float, ankle: float) -> None:
    """Alternating leg and arm swing: left hip forward when sin(phi) > 0, arms opposite."""
    a, ph = c.amp, c.ph
    sw = c.subject.arm_swing
    for sign, side in ((1.0, m.L), (-1.0, m.R)):
        p = ph if sign > 0 else ph + np.pi
        side("hip", x=-a * hip * np.sin(p) - 4.0)
        # Knee flexes while the leg swings forward (hip flexion increasing) and a little at contact.
        side("knee", x=a * knee * relu(np.cos(p)) ** 1.5 + 0.15 * knee * relu(np.sin(p)) ** 2)
        side("ankle", x=a * ankle * np.sin(p + 0.6))
        side("shoulder", x=a * sw * arm * np.sin(p))
        side("elbow", y=-elbow - 0.3 * a * sw * arm * relu(-np.sin(p)))
    m.C("pelvis", y=5.0 * a * np.sin(ph))
    m.C("spine3", y=-8.0 * a * np.sin(ph))


def walk(m: Motion, c: Context) -> None:
    """Gait with forward translation."""
    free = arms_free(m, c, 0.3)
    gait(m, c, hip=24.0, knee=45.0, arm=18.0 if free else 2.0, elbow=10.0 if free else 0.0, ankle=10.0)
    m.speed += 1.55 * c.f * c.scale * (0.6 + 0.4 * c.amp)


def run(m: Motion, c: Context) -> None:
    """Faster gait with bent elbows, forward lean and flight phases."""
    gait(m, c, hip=38.0, knee=85.0, arm=32.0, elbow=75.0, ankle=18.0)
    m.C("spine1", x=10.0)
    m.C("spine2", x=4.0)
    m.speed += 2.2 * c.f * c.scale * (0.6 + 0.4 * c.amp)
    # Flight twice per cycle (after each push-off).
    m.lift += 0.07 * c.scale * c.amp * relu(np.sin(2.0 * c.ph)) ** 2


def turn(m: Motion, c: Context) -> None:
    """Stepping in place while the heading rotates (left or right)."""
    direction = 1.0 if c.rng.random() < 0.5 else -1.0
    omega = np.deg2rad(95.0) * c.f / 1.1 * c.amp
    m.turn += direction * omega * m.t
    free = arms_free(m, c, 0.3)
    gait(m, c, hip=10.0, knee=35.0, arm=6.0 if free else 0.0, elbow=12.0 if free else 0.0, ankle=6.0)
    m.B("hip", z=4.0 * np.abs(np.sin(c.ph)))
    m.C("spine3", y=direction * 8.0)
    m.C("neck", y=direction * 12.0)
