"""DCT-domain motion diffusion: cosine schedule, epsilon loss, DDIM sampling and DCT completion.

Follows HumanMAC (Chen et al., ICCV 2023), Eq. 2-4, as used by the few-shot paper:

* x0 = D[:n_coef] X, the first ``n_coef`` DCT-II coefficients of a (H, J, 3) window (H = 60, 20
  coefficients), after the input normalisation below.
* Forward process (Eq. 2): x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, cosine schedule with 1000
  steps (Nichol & Dhariwal, s = 0.008, betas clipped at 0.999; see :mod:`haad.diffusion_schedule`);
  index t means "after t + 1 steps".
  Training draws t uniformly from 1..999 and regresses eps (Eq. 3); optionally a fraction of the
  draws is taken from the top of the schedule instead (see ``sample_t``).
* Sampling: DDIM with eta = 0 (deterministic given the starting noise).
* Completion (Eq. 4): after every DDIM step to level t', the padded observation's DCT is noised to
  t' with fresh noise, both are mapped to frames with the truncated inverse DCT, the observed frames
  are taken from the observation and the others from the sample, and the result goes back to DCT.

Input normalisation (our choice; the reference feeds raw metres): windows are in metres with the
root's first-frame position subtracted. Before the DCT, every frame goes through

1. a per-frame joint transform (``transform``): ``parent`` (default of the trainer) turns every
   non-root joint into its bone vector (position minus its parent's), the root keeping its
   trajectory; ``root`` makes joints root-relative; ``none`` keeps absolute positions. The few-shot
   paper diffuses absolute positions; with them one global noise scale is set by the global
   trajectory (metres) and the body's own structure (centimetres) drowns, so short trainings give
   wrong bone lengths. Bone vectors put each feature on its own scale;
2. standardisation per feature (joint x axis): ``(F - mean[j, c]) / scale[j, c]`` with the mean over
   training frames and the scale making each feature's normalised DCT coefficients unit mean-square
   (``norm = "global"`` in the trainer uses one scale for all features instead).

Both steps act on each frame's features only, identically for every frame, so they commute with the
DCT and with the per-frame mask of Eq. 4: completion stays exact, the noise stays i.i.d. per
coefficient, and the output's observed frames are still the band-limited observation. What must NOT
be done is a per-coefficient (per-frequency) scale: the mask mixes coefficients, and the large
low-frequency noise would leak into the small high-frequency coefficients at every completion step.
The statistics are estimated on augmented training windows and stored with the checkpoint.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from haad.dct import dct_matrix
from haad.diffusion_schedule import COSINE_S, MAX_BETA, NOISE_STEPS, cosine_betas


def ddim_timesteps(steps: int, noise_steps: int = NOISE_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """DDIM grid (descending order of use is the caller's business) and each entry's previous level.

    For ``steps = 100`` and 1000 noise steps this is HumanMAC's grid t = 1, 11, ..., 991 with previous
    levels 0, 1, 11, ..., 981. Other step counts keep both ends, 1 and 991, and space the levels
    evenly in between (rounded): 50 steps -> 1, 21, 41, ..., 991 (spacing 20.2); 20 -> 1, 53, ...,
    991; 10 -> 1, 111, 221, ..., 991. Keeping the top level at 991 means the start x_T ~ N(0, I)
    matches the same noise level (abar = 1.6e-4) whatever the number of steps.
    """
    if steps < 1:
        raise ValueError(f"DDIM steps must be >= 1, got {steps}")
    top = noise_steps - noise_steps // 100 + 1 if noise_steps >= 100 else noise_steps - 1  # 991 for 1000
    if steps == 1:
        seq = np.array([top], dtype=np.int64)
    else:
        seq = np.rint(1 + np.arange(steps) * (top - 1) / (steps - 1)).astype(np.int64)
        if len(np.unique(seq)) != steps:
            raise ValueError(f"{steps} DDIM steps do not fit in {noise_steps} noise steps")
    prev = np.concatenate([[0], seq[:-1]]).astype(np.int64)
    return seq, prev


TRANSFORMS = ("none", "root", "parent")


def joint_transform(kind: str, parents=None, root: int = 0, num_joints: int | None = None) -> np.ndarray:
    """J x J matrix A applied to every frame's joints (features = A @ positions, per axis).

    ``none``: identity (absolute positions). ``root``: the root joint keeps its position, every other
    joint becomes relative to the root. ``parent``: the root keeps its position, every other joint
    becomes its bone vector (position minus its parent's position).
    """
    if kind not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {kind!r}")
    if kind == "none":
        if num_joints is None:
            num_joints = len(parents)
        return np.eye(num_joints)
    parents = np.asarray(parents, dtype=np.int64)
    j = len(parents)
    a = np.eye(j)
    for i, p in enumerate(parents):
        if p < 0:
            continue
        if kind == "root":
            if i != root:
                a[i, root] -= 1.0
        else:
            a[i, p] -= 1.0
    return a


class Diffusion:
    """Schedule, normalisation and the sampling / completion procedures (no trainable state).

    Args:
        length: window length H (frames).
        n_coef: DCT coefficients kept (tokens of the noise predictor).
        num_joints: J.
        transform: per-frame joint transform applied before standardising: ``none`` (absolute
            positions), ``root`` (root-relative joints) or ``parent`` (bone vectors); see
            :func:`joint_transform`. Needs ``parents`` unless ``none``.
        parents, root: the skeleton's kinematic tree (for the transform).
        mean: (J, 3) per-feature mean of the transformed frames (default zeros).
        scale: a float or (J, 3) per-feature scale dividing the centred features (default 1).
        noise_steps, s, max_beta: the cosine schedule.
    """

    def __init__(self, length: int = 60, n_coef: int = 20, num_joints: int = 24, mean=None, scale=1.0,
                 transform: str = "none", parents=None, root: int = 0,
                 noise_steps: int = NOISE_STEPS, s: float = COSINE_S, max_beta: float = MAX_BETA):
        if not 1 <= n_coef <= length:
            raise ValueError(f"n_coef must be in 1..{length}, got {n_coef}")
        self.length, self.n_coef, self.num_joints = int(length), int(n_coef), int(num_joints)
        self.noise_steps, self.s, self.max_beta = int(noise_steps), float(s), float(max_beta)
        betas = cosine_betas(noise_steps, s, max_beta)
        self.betas = torch.tensor(betas, dtype=torch.float32)
        self.alphas_cumprod = torch.tensor(np.cumprod(1.0 - betas), dtype=torch.float32)
        mean = np.zeros((num_joints, 3)) if mean is None else np.asarray(mean, dtype=np.float64)
        if mean.shape != (num_joints, 3):
            raise ValueError(f"mean must be ({num_joints}, 3), got {mean.shape}")
        scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (num_joints, 3)).copy()
        if not np.all(scale > 0):
            raise ValueError("scale must be > 0")
        self.transform = transform
        self.parents = None if parents is None else [int(p) for p in parents]
        self.root = int(root)
        if transform != "none" and (self.parents is None or len(self.parents) != num_joints):
            raise ValueError(f"transform {transform!r} needs the {num_joints} joints' parents")
        a = joint_transform(transform, self.parents, self.root, num_joints)
        self.tmat = torch.tensor(a, dtype=torch.float32)
        self.tmat_inv = torch.tensor(np.linalg.inv(a), dtype=torch.float32)
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.scale = torch.tensor(scale, dtype=torch.float32)
        self.dct_mat = dct_matrix(self.length)[: self.n_coef]  # (n_coef, H); its transpose is the IDCT

    # --- configuration -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "length": self.length, "n_coef": self.n_coef, "num_joints": self.num_joints,
            "noise_steps": self.noise_steps, "s": self.s, "max_beta": self.max_beta,
            "transform": self.transform, "parents": self.parents, "root": self.root,
            "mean": self.mean.tolist(), "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Diffusion":
        return cls(length=d["length"], n_coef=d["n_coef"], num_joints=d["num_joints"], mean=d.get("mean"),
                   scale=d.get("scale", 1.0), transform=d.get("transform", "none"), parents=d.get("parents"),
                   root=d.get("root", 0), noise_steps=d.get("noise_steps", NOISE_STEPS),
                   s=d.get("s", COSINE_S), max_beta=d.get("max_beta", MAX_BETA))

    # --- representation ------------------------------------------------------------------------
    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-frame joint transform (absolute / root-relative / bone vectors), same shape."""
        if self.transform == "none":
            return windows
        return torch.einsum("ij,...jc->...ic", self.tmat.to(windows), windows)

    def positions(self, feats: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`features`."""
        if self.transform == "none":
            return feats
        return torch.einsum("ij,...jc->...ic", self.tmat_inv.to(feats), feats)

    def normalize(self, windows: torch.Tensor) -> torch.Tensor:
        """Metres -> standardised features per frame (same shape)."""
        return (self.features(windows) - self.mean.to(windows)) / self.scale.to(windows)

    def denormalize(self, frames: torch.Tensor) -> torch.Tensor:
        return self.positions(frames * self.scale.to(frames) + self.mean.to(frames))

    def to_dct(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., H, J, 3) frames -> (..., n_coef, J, 3) coefficients."""
        return torch.einsum("kt,...tjc->...kjc", self.dct_mat.to(frames), frames)

    def from_dct(self, coef: torch.Tensor) -> torch.Tensor:
        """Truncated inverse DCT: (..., n_coef, J, 3) -> (..., H, J, 3)."""
        return torch.einsum("kt,...kjc->...tjc", self.dct_mat.to(coef), coef)

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """Windows in metres (B, H, J, 3) -> diffusion space x0 (B, n_coef, J, 3)."""
        return self.to_dct(self.normalize(windows))

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        """Diffusion space (B, n_coef, J, 3) -> windows in metres (B, H, J, 3)."""
        return self.denormalize(self.from_dct(x0))

    def pad_observation(self, windows: torch.Tensor, n_obs) -> torch.Tensor:
        """Keep the first n_obs frames and repeat the last observed one to the window length.

        ``n_obs`` is an int or a (B,) integer tensor (one observation length per window).
        """
        h = windows.shape[-3]
        idx = torch.arange(h, device=windows.device)
        if isinstance(n_obs, torch.Tensor) and n_obs.dim() == 1:
            if windows.dim() != 4:
                raise ValueError("per-window n_obs needs (B, H, J, 3) windows")
            idx = torch.minimum(idx[None], (n_obs.to(windows.device) - 1)[:, None])  # (B, H)
            return torch.gather(windows, 1, idx[:, :, None, None].expand_as(windows))
        n_obs = int(n_obs)
        if not 1 <= n_obs <= h:
            raise ValueError(f"n_obs must be in 1..{h}, got {n_obs}")
        return windows[..., torch.clamp(idx, max=n_obs - 1), :, :]

    def condition(self, windows: torch.Tensor, n_obs) -> torch.Tensor:
        """The condition and completion target: DCT of the padded (normalised) observation."""
        return self.encode(self.pad_observation(windows, n_obs))

    # --- forward process and loss --------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, t a (B,) index tensor (Eq. 2)."""
        ab = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def sample_t(self, n: int, generator: torch.Generator | None = None, device=None, high_frac: float = 0.0,
                 high_from: int = 900) -> torch.Tensor:
        """Training timesteps: uniform on 1..noise_steps-1 (as in the reference trainer).

        With ``high_frac > 0`` that fraction of the draws is uniform on high_from..noise_steps-1
        instead (see :class:`haad.generator.train.GeneratorTrainConfig`); draws are made on the CPU.
        """
        t = torch.randint(1, self.noise_steps, (n,), generator=generator)
        if high_frac > 0:
            hi = torch.randint(high_from, self.noise_steps, (n,), generator=generator)
            pick = torch.rand(n, generator=generator) < high_frac
            t = torch.where(pick, hi, t)
        return t.to(device) if device is not None else t

    def loss(self, model, x0: torch.Tensor, cond: torch.Tensor | None = None, t: torch.Tensor | None = None,
             noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """MSE between the true and the predicted noise (Eq. 3); x0 and cond in diffusion space."""
        if t is None:
            t = self.sample_t(x0.shape[0], generator, x0.device)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        eps = model(self.q_sample(x0, t, noise), t, cond)
        return F.mse_loss(eps, noise)

    # --- sampling ------------------------------------------------------------------------------
    @staticmethod
    def _randn(shape, generator, device, dtype=torch.float32) -> torch.Tensor:
        """Noise of shape (B, ...); ``generator`` is one torch.Generator or a list with one per row."""
        if isinstance(generator, (list, tuple)):
            if len(generator) != shape[0]:
                raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
            return torch.stack([torch.randn(shape[1:], generator=g, dtype=dtype) for g in generator]).to(device)
        return torch.randn(shape, generator=generator, dtype=dtype).to(device)

    def ddim_step(self, model, x: torch.Tensor, t: int, t_prev: int, cond) -> torch.Tensor:
        """One eta = 0 DDIM update from level t to level t_prev (no clipping of x0_hat)."""
        ab = self.alphas_cumprod
        a_t, a_prev = float(ab[t]), float(ab[t_prev])
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        eps = model(x, tt, cond)
        x0_hat = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        return math.sqrt(a_prev) * x0_hat + math.sqrt(1 - a_prev) * eps

    @torch.no_grad()
    def sample(self, model, cond: torch.Tensor | None, n: int, steps: int = 100, generator=None,
               device=None) -> torch.Tensor:
        """Unconstrained DDIM sampling (no completion); returns x0 in diffusion space (n, n_coef, J, 3)."""
        shape = (n, self.n_coef, self.num_joints, 3)
        x = self._randn(shape, generator, device)
        seq, prev = ddim_timesteps(steps, self.noise_steps)
        for t, tp in zip(seq[::-1], prev[::-1]):
            x = self.ddim_step(model, x, int(t), int(tp), cond)
        return x

    def completion_matrices(self, n_obs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, Q), (n_coef, n_coef) float64: Eq. 4's frame mask as maps of the DCT coefficients.

        With D the truncated DCT and m the mask of the first ``n_obs`` frames, P = D diag(m) D^T and
        Q = D diag(1 - m) D^T (computed in float64), so that to_dct(m * from_dct(a) + (1 - m) *
        from_dct(x)) = P a + Q x: the completion of :meth:`complete` as one product per step.
        """
        h = self.length
        if not 1 <= int(n_obs) <= h:
            raise ValueError(f"n_obs must be in 1..{h}, got {n_obs}")
        d = self.dct_mat.double()
        m = torch.zeros(h, dtype=torch.float64)
        m[: int(n_obs)] = 1.0
        return (d * m) @ d.T, (d * (1 - m)) @ d.T

    def _noise(self, shape, draws: int, generator, device) -> torch.Tensor:
        """``draws`` noise tensors of ``shape`` (B, ...) stacked on dim 1, drawn as :meth:`_randn`
        would draw them one after the other (with a list of generators, row by row)."""
        if isinstance(generator, (list, tuple)):
            if len(generator) != shape[0]:
                raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
            out = torch.empty((shape[0], draws) + tuple(shape[1:]))
            views = out.view(shape[0] * draws, *shape[1:]).unbind(0)
            for i, g in enumerate(generator):
                for s in range(draws):
                    torch.randn(shape[1:], generator=g, out=views[i * draws + s])
            return out.to(device)
        return torch.stack([self._randn(shape, generator, device) for _ in range(draws)], dim=1)

    @torch.inference_mode()
    def complete(self, model, windows: torch.Tensor, n_obs: int = 30, steps: int = 100, generator=None,
                 condition: bool = True, precision: str = "float32") -> torch.Tensor:
        """Generate the frames after the first ``n_obs`` of each window (Eq. 4).

        Args:
            model: the noise predictor (put it in eval mode yourself), or any callable
                ``model(x_t, t, cond)`` on (B, n_coef, J, 3) tensors with a (B,) ``t``.
            windows: (B, H, J, 3) windows in metres; only their first n_obs frames are read.
            n_obs: observed frames O (the rest, H - O, is generated).
            steps: DDIM steps.
            generator: a torch.Generator, or a list with one generator per window (then every
                window's noise depends only on its own generator, not on the batch it sits in).
            condition: feed the observation's DCT to the model as its condition (the few-shot paper
                always does).
            precision: ``float32``, or ``bfloat16``: a :class:`~haad.generator.denoiser.NoisePredictor`'s
                :class:`~haad.generator.denoiser.SamplingDenoiser` runs in bfloat16 (the DDIM updates
                stay in float32).

        Eq. 4 runs in the normalised feature space (see the module docstring); the result is mapped
        back to positions at the end. In float32 this computes :meth:`complete_reference` up to float32
        rounding, from the same random draws: the completion is one (n_coef x n_coef) product per
        step (:meth:`completion_matrices`), the noise of all steps is drawn before the loop, and a
        :class:`~haad.generator.denoiser.NoisePredictor` in eval mode runs as a
        :class:`~haad.generator.denoiser.SamplingDenoiser`.

        Returns (B, H, J, 3) in metres: the truncated inverse DCT of the final sample. Its observed
        frames are, up to leakage of the truncated basis across the boundary and the small noise
        of the last level (sqrt(1 - abar_0) = 0.0064 in normalised units), the n_coef-band-limited
        observation.
        """
        from haad.generator.denoiser import NoisePredictor, SamplingDenoiser, sampling_dtype

        if windows.dim() != 4 or windows.shape[1:] != (self.length, self.num_joints, 3):
            raise ValueError(f"windows must be (B, {self.length}, {self.num_joints}, 3), got {tuple(windows.shape)}")
        device = windows.device
        obs_dct = self.condition(windows.float(), n_obs)  # (B, n_coef, J, 3)
        b, shape = len(obs_dct), obs_dct.shape
        flat = (b, self.n_coef, 3 * self.num_joints)
        noise = self._noise(shape, steps + 1, generator, device).view(b, steps + 1, *flat[1:])
        obs = obs_dct.reshape(flat)
        p, q = (m.float().to(device).expand(b, -1, -1) for m in self.completion_matrices(n_obs))

        dtype = sampling_dtype(precision)
        fast_path = isinstance(model, NoisePredictor) and not model.training
        if dtype != torch.float32 and not fast_path:
            raise ValueError(f"precision {precision} needs a NoisePredictor in eval mode")
        if fast_path:
            fast = SamplingDenoiser(model, dtype)
            cond_emb = fast.project(obs) if condition else None

            def denoise(x, t):
                return fast(x, t, cond_emb)
        else:
            cond = obs_dct if condition else None

            def denoise(x, t):
                tt = torch.full((b,), t, dtype=torch.long, device=device)
                return model(x.view(shape), tt, cond).reshape(flat)

        seq, prev = ddim_timesteps(steps, self.noise_steps)
        x = noise[:, 0]
        for s, (t, tp) in enumerate(zip(seq[::-1], prev[::-1]), start=1):
            a_t, a_prev = float(self.alphas_cumprod[t]), float(self.alphas_cumprod[tp])
            eps = denoise(x, int(t))
            # DDIM, eta = 0: sqrt(a_prev) (x - sqrt(1 - a_t) eps) / sqrt(a_t) + sqrt(1 - a_prev) eps
            c_x = math.sqrt(a_prev / a_t)
            c_eps = math.sqrt(1 - a_prev) - c_x * math.sqrt(1 - a_t)
            x = torch.add(x * c_x, eps, alpha=c_eps)
            # Eq. 4: the observed frames from the observation noised to a_prev, the others from x.
            known = torch.add(obs * math.sqrt(a_prev), noise[:, s], alpha=math.sqrt(1 - a_prev))
            x = torch.baddbmm(torch.bmm(p, known), q, x)
        return self.decode(x.view(shape))

    @torch.no_grad()
    def complete_reference(self, model, windows: torch.Tensor, n_obs: int = 30, steps: int = 100, generator=None,
                           condition: bool = True) -> torch.Tensor:
        """:meth:`complete` written out step by step: the denoiser module's own forward, the noised
        observation and the sample mapped to frames, masked and mapped back at every step.

        Slower; kept as the reference :meth:`complete` is tested (tests/test_generation_speed_equivalence.py)
        and timed (benchmarks/generation_speed.py) against.
        """
        if windows.dim() != 4 or windows.shape[1:] != (self.length, self.num_joints, 3):
            raise ValueError(f"windows must be (B, {self.length}, {self.num_joints}, 3), got {tuple(windows.shape)}")
        device = windows.device
        obs_dct = self.condition(windows.float(), n_obs)  # (B, n_coef, J, 3)
        cond = obs_dct if condition else None
        mask = torch.zeros(1, self.length, 1, 1, device=device)
        mask[:, :n_obs] = 1.0
        known_frames_clean = self.from_dct(obs_dct)
        x = self._randn(obs_dct.shape, generator, device)
        seq, prev = ddim_timesteps(steps, self.noise_steps)
        ab = self.alphas_cumprod
        for t, tp in zip(seq[::-1], prev[::-1]):
            x = self.ddim_step(model, x, int(t), int(tp), cond)
            a_prev = float(ab[int(tp)])
            noise = self._randn(obs_dct.shape, generator, device)
            # Noising is linear, so noise the DCT and map to frames (= noising the frames' DCT).
            known = math.sqrt(a_prev) * known_frames_clean + math.sqrt(1 - a_prev) * self.from_dct(noise)
            frames = mask * known + (1 - mask) * self.from_dct(x)
            x = self.to_dct(frames)
        return self.decode(x)
