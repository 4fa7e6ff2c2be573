"""Procedural human motion on the SMPL-24 skeleton: the embedded default dataset.

``haad demo`` trains and evaluates on it and the test suite uses it as fixture data, so it needs no
download, is deterministic given a seed and takes a fraction of a second for the default size.

How a clip is made
------------------
Forward kinematics over :data:`haad.skeleton.SMPL24`:

* **Rest pose.** A T-pose template (bone offsets close to SMPL's mean shape, ~1.68 m tall), scaled
  per *subject*: overall stature drawn in 1.5..1.9 m, and every limb segment (thigh, shank, foot,
  upper arm, forearm, hand, collar bone, hip width, spine, neck, head) jittered by up to +-7%. The
  jitter is the same on the left and the right, so a subject's rest pose is mirror-symmetric.
* **Joint rotations.** Every joint gets local Euler angles (radians; ``R = Ry @ Rx @ Rz``, i.e.
  roll about z first, then pitch about x, then yaw about y, all in the parent's frame) that are
  functions of time and of a phase variable ``phi = 2 pi f t + phi0`` that the action drives. A
  relaxed standing pose (arms hanging, slight knee and elbow flexion) is added under every action,
  plus a little low-frequency "sway" on every joint so that no two clips are piecewise identical.
* **Root trajectory.** The pelvis is placed so that the lowest foot point touches the ground
  (``y = 0``), which gives walking its vertical bob and makes squats and sitting lower the body;
  actions add flight (jump, run), forward translation along the current heading (walk, run) and
  heading changes about the vertical axis (turn).

Per clip, on top of the subject: tempo (cycle frequency x U(0.8, 1.2)), amplitude
(x U(0.8, 1.2)), phase offset (anywhere in the cycle for repetitive actions; near the neutral stance,
possibly after a short still delay, for discrete ones such as a squat or a bow), global facing (yaw,
U(-yaw_range, +yaw_range) degrees), start position (x and z in U(-1, 1) m), the hand or foot used by
one-sided actions (the left one with probability ``left_prob``), nuisance posture that is not part of
the action (head turn, weight shift, and for actions that leave the arms free: hands on hips or arms
folded), clip length U{45..120} frames (some shorter than the protocol's 60-frame window, to exercise
padding) and iid Gaussian sensor noise of ``noise_std`` metres on every coordinate.

Axis convention
---------------
Metres, right-handed, **y up**; the ground is ``y = 0``. In the rest pose the body faces **+z** and
its left side is **+x** (SMPL's convention). A clip with facing yaw ``psi`` faces
``(sin psi, 0, cos psi)``. Frame rate :data:`FPS` = 30.

Subjects and order keys
-----------------------
Clip ``i`` of a category (``i = 0 .. clips_per_class-1``) belongs to subject
``i * n_subjects // clips_per_class``; its trial number counts the subject's clips of that category.
``order_keys = (subject, trial)``, so the protocol's per-category 80/20 split puts the first subjects
in the training pool and the last ones in the test set (close to subject-wise).

Categories (:data:`SYNTHETIC_ACTIONS`, label = index in the tuple that was asked for) include pairs
that are alike on purpose: walk/run/turn (stepping legs), squat/sit (hip and knee flexion),
wave/reach/punch (one arm raised or extended), jump/squat (crouching), kick/walk (a leg swinging
forward).

Modules
-------
* :mod:`~haad.data.synthetic.body` -- rest pose, stature and the subjects' body shapes.
* :mod:`~haad.data.synthetic.kinematics` -- forward kinematics.
* :mod:`~haad.data.synthetic.motion` -- what an action writes into, and the posture under every action.
* :mod:`~haad.data.synthetic.locomotion`, :mod:`~haad.data.synthetic.posture`,
  :mod:`~haad.data.synthetic.gestures` -- the actions, by family.
* :mod:`~haad.data.synthetic.clips` -- the table of actions and the clip / dataset builder.
"""

from haad.data.synthetic.body import Subject, make_subject, rest_pose, stature
from haad.data.synthetic.clips import FPS, MAX_FRAMES, MIN_FRAMES, SYNTHETIC_ACTIONS, synthesize, synthesize_clip
from haad.data.synthetic.kinematics import forward_kinematics

__all__ = [
    "FPS", "MAX_FRAMES", "MIN_FRAMES", "SYNTHETIC_ACTIONS", "Subject", "forward_kinematics", "make_subject",
    "rest_pose", "stature", "synthesize", "synthesize_clip",
]
