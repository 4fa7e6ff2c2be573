"""Discrete whole-body and leg actions: jump, squat, sit, bow and kick."""

from __future__ import annotations

import numpy as np

from haad.data.synthetic.motion import Context, Motion, arms_free, relu, smoothstep


def jump(m: Motion, c: Context) -> None:
    """Crouch, take-off with an arm swing, flight and landing."""
    u = np.mod(c.ph / (2.0 * np.pi), 1.0)
    crouch = np.exp(-0.5 * ((u - 0.22) / 0.09) ** 2) + np.exp(-0.5 * ((u - 0.92) / 0.05) ** 2) * 0.6
    fl = (u > 0.35) & (u < 0.80)
    flight = np.where(fl, np.sin(np.pi * np.clip((u - 0.35) / 0.45, 0, 1)), 0.0)
    a = c.amp
    m.B("hip", x=-55.0 * a * crouch)
    m.B("knee", x=95.0 * a * crouch + 10.0 * flight)
    m.B("ankle", x=-30.0 * a * crouch + 25.0 * flight)
    m.C("spine1", x=25.0 * a * crouch)
    # Arms swing back in the crouch, forward and up at take-off.
    swing = 45.0 * crouch - 140.0 * a * np.exp(-0.5 * ((u - 0.45) / 0.12) ** 2)
    m.B("shoulder", x=swing)
    m.B("elbow", y=-15.0 * crouch)
    m.lift += 0.30 * c.scale * a * flight


def squat(m: Motion, c: Context) -> None:
    """Hip and knee flexion down and up, arms forward or carried."""
    s = (0.5 - 0.5 * np.cos(c.ph)) * c.amp
    m.B("hip", x=-105.0 * s, z=8.0 * s)
    m.B("knee", x=125.0 * s)
    m.B("ankle", x=-30.0 * s)
    m.C("spine1", x=25.0 * s)
    if c.rng.random() < 0.65:  # arms forward for balance
        m.B("shoulder", x=-80.0 * s)
    else:
        arms_free(m, c, 1.0)
    m.back += 0.10 * c.scale * s


def sit(m: Motion, c: Context) -> None:
    """Sitting down within a cycle, then settling."""
    t0 = c.rng.uniform(0.05, 0.4)
    dur = 1.0 / c.f  # seated within about 2 s (the protocol's window)
    s = smoothstep((m.t - t0) / dur)
    bump = np.sin(np.pi * np.clip((m.t - t0) / dur, 0, 1)) ** 2
    a = c.amp
    m.B("hip", x=-88.0 * s, z=6.0 * s)
    m.B("knee", x=90.0 * s)
    m.C("spine1", x=30.0 * a * bump)
    m.C("neck", x=-12.0 * a * bump)
    if c.rng.random() < 0.6:  # hands come to rest on the thighs
        m.B("shoulder", x=-35.0 * s, z=8.0 * s)
        m.B("elbow", y=-35.0 * s)
    else:
        arms_free(m, c, 0.8)
    # Slight settling once seated.
    m.C("spine2", x=-6.0 * s + 2.0 * s * np.sin(c.ph))
    m.back += 0.12 * c.scale * s


def bow(m: Motion, c: Context) -> None:
    """Forward bend at the hips and spine, and back."""
    s = (0.5 - 0.5 * np.cos(c.ph)) ** 1.3 * c.amp
    m.C("pelvis", x=30.0 * s)
    m.B("hip", x=-28.0 * s)
    m.C("spine1", x=15.0 * s)
    m.C("spine2", x=12.0 * s)
    m.C("spine3", x=8.0 * s)
    m.C("neck", x=10.0 * s)
    if arms_free(m, c, 0.3):
        m.B("shoulder", x=-12.0 * s)
    m.back += 0.08 * c.scale * s


def kick(m: Motion, c: Context) -> None:
    """A front kick with one leg (chamber, extension), arms out for balance."""
    u = relu(np.sin(c.ph))
    chamber = relu(np.sin(2.0 * c.ph)) * (np.sin(c.ph) > 0)
    a = c.amp
    leg = m.side(c.left)
    other = m.side(not c.left)
    leg("hip", x=-75.0 * a * u ** 1.5)
    leg("knee", x=85.0 * chamber + 5.0)
    leg("ankle", x=25.0 * u)
    other("knee", x=12.0 * u)
    m.B("shoulder", z=35.0 * u, x=-15.0 * u)
    m.C("spine1", x=-12.0 * u)
    m.C("pelvis", x=-8.0 * u)
