"""Arm gestures: wave, reach, punch and clap."""

from __future__ import annotations

import numpy as np

from haad.data.synthetic.motion import Context, Motion, raise_envelope, relu


def wave(m: Motion, c: Context) -> None:
    """One raised arm waving at the elbow and wrist."""
    e = raise_envelope(m, c)
    arm = m.side(c.left)
    arm("shoulder", z=(110.0 + 12.0 * (c.amp - 1.0)) * e, x=-18.0 * e)
    arm("elbow", z=70.0 * e + 28.0 * c.amp * np.sin(c.ph) * e, y=12.0 * e)
    arm("wrist", z=12.0 * np.sin(c.ph + 0.8) * e)
    m.C("spine3", z=(3.0 if c.left else -3.0) * e)


def reach(m: Motion, c: Context) -> None:
    """One arm extended forward (random elevation and direction) and back."""
    s = 0.5 - 0.5 * np.cos(c.ph)
    elev = c.rng.uniform(-20.0, 25.0)
    lateral = c.rng.uniform(-10.0, 25.0)
    arm = m.side(c.left)
    arm("shoulder", x=-(90.0 + elev) * s * c.amp, y=-lateral * s, z=10.0 * s)
    arm("elbow", y=-60.0 * (1.0 - s) + 10.0)
    arm("wrist", x=-10.0 * s)
    m.C("spine2", x=12.0 * s * c.amp, y=(-10.0 if c.left else 10.0) * s)


def punch(m: Motion, c: Context) -> None:
    """Alternating punches from a guard, the lead arm first, with a trunk twist."""
    e = raise_envelope(m, c, 0.25)
    a = c.amp
    m.B("knee", x=15.0)
    m.B("hip", x=-10.0)
    lead = c.left
    for is_left, p in ((lead, c.ph), (not lead, c.ph + np.pi)):
        s = relu(np.sin(p)) ** 3
        arm = m.side(is_left)
        arm("shoulder", x=(-55.0 - 30.0 * a * s) * e, z=(45.0 + 20.0 * s) * e, y=-20.0 * s * e)
        arm("elbow", y=-(120.0 * (1.0 - s) + 5.0) * e)
    tw = np.sin(c.ph) * 18.0 * a
    m.C("spine2", y=-tw if lead else tw)


def clap(m: Motion, c: Context) -> None:
    """Hands brought together in front of the chest, repeatedly."""
    e = raise_envelope(m, c)
    close = relu(np.sin(c.ph)) ** 0.7
    a = c.amp
    m.B("shoulder", x=-62.0 * e, y=(-15.0 - 22.0 * a * close) * e, z=20.0 * e)
    m.B("elbow", y=-(45.0 + 15.0 * close) * e)
    m.B("wrist", x=10.0 * e)
    m.C("neck", x=6.0 * e)
