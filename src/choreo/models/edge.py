"""EDGE (Tseng et al., CVPR 2023): music-conditioned motion diffusion with geometric losses.

:class:`EdgeMethod` bundles the denoiser (its one component), the diffusion scheduler, the motion
representation and its normaliser. It trains (:meth:`EdgeMethod.training_loss`, a per-sample loss) and
samples a dance of any length from overlapping windows, with editing constraints
(:meth:`EdgeMethod.generate`). It does no file IO.

Tensors: motion (B, T, C) normalised to [-1, 1] per channel by the normaliser, music (B, T, F)
features frame-aligned with the motion at the model's fps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from choreo.errors import ChoreoError
from choreo.models.denoiser import EdgeDenoiser, SamplingContext
from choreo.models.diffusion import SAMPLERS, GaussianDiffusion, clip_bounds, guidance_ramp, guided, randn_like
from choreo.models.editing import Constraint
from choreo.models.longform import (
    WindowPlan,
    couple,
    linear_blend,
    pad_frames,
    plan_windows,
    split_windows,
    stitch,
)
from choreo.models.method import Method, config_from_dict
from choreo.models.precision import autocast as network_precision
from choreo.models.precision import resolve as resolve_precision
from choreo.models.progress import progress_bar


@dataclass
class EdgeConfig:
    """EDGE's settings; the defaults are the paper's (official code).

    Attributes:
        width, layers, heads, ff_size, dropout, music_layers: denoiser sizes.
        window_frames: frames per window, the null music embedding's length and the long-form window
            (None: the data's training window, EDGE: 5 s at 30 fps).
        n_timesteps, schedule, cosine_s: the diffusion (T = 1000, cosine, s = 0.008).
        cond_dropout: probability of training with the null music (classifier-free guidance).
        loss_x0, loss_vel, loss_fk, loss_foot: loss weights.
        contact_threshold: predicted contact (real units, 0..1) above which the foot loss applies.
        guidance, steps, eta, sampler: sampling defaults (w = 2, DDIM 50 steps, eta 1; ``dpm++2m`` is the
            few-step solver).
        precision: sampling precision, ``fp32``, ``bf16`` or ``auto`` (bf16 where the hardware computes it
            natively, see :mod:`choreo.models.precision`).
        rotary_theta: base of the rotary position frequencies.
    """

    width: int = 512
    layers: int = 8
    heads: int = 8
    ff_size: int = 1024
    dropout: float = 0.1
    music_layers: int = 2
    window_frames: int | None = None
    n_timesteps: int = 1000
    schedule: str = "cosine"
    cosine_s: float = 0.008
    cond_dropout: float = 0.25
    loss_x0: float = 0.636
    loss_vel: float = 2.964
    loss_fk: float = 0.646
    loss_foot: float = 10.942
    contact_threshold: float = 0.95
    guidance: float = 2.0
    steps: int = 50
    eta: float = 1.0
    sampler: str = "ddim"
    rotary_theta: float = 10000.0
    precision: str = "fp32"

    @classmethod
    def from_dict(cls, d: dict | None) -> EdgeConfig:
        """Build from a plain dict (unknown keys are an error, naming them)."""
        cfg = config_from_dict(cls, d, "EDGE model")
        if cfg.width % cfg.heads or (cfg.width // cfg.heads) % 2:
            raise ChoreoError(f"EDGE width {cfg.width} must split into {cfg.heads} heads of even size")
        if cfg.sampler not in SAMPLERS:
            raise ChoreoError(f"unknown sampler {cfg.sampler!r} (known: {', '.join(SAMPLERS)})")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _non_contact_channels(representation) -> np.ndarray:
    keep = np.ones(representation.dim, bool)
    keep[representation.contact_channels] = False
    return np.nonzero(keep)[0]


def _rot6d_slice(representation) -> slice | None:
    """Channels holding 6D joint rotations (contiguous after the root), or None for position representations."""
    sl = getattr(representation, "rot6d_channels", None)
    if sl is not None:
        return sl
    if "rot6d" in representation.name:
        start = representation.root_channels.stop
        return slice(start, start + 6 * representation.skeleton.n_joints)
    return None


def geometric_terms(
    pred: torch.Tensor,
    x0: torch.Tensor,
    representation,
    denormalize: Callable[[torch.Tensor], torch.Tensor],
    motion_channels: torch.Tensor,
    foot_joints: list[int],
    foot_contacts: list[int],
    contact_threshold: float,
) -> dict[str, torch.Tensor]:
    """EDGE's four loss terms per sample, each (B,) (shared with the methods that train on EDGE's losses).

    ``x0``: mean squared error of the normalised tensors; ``vel``: of the frame differences of
    ``motion_channels`` (the non-contact channels); ``fk``: of the joint positions (m^2) after ``denormalize``
    and the representation's forward kinematics; ``foot``: squared velocity (m^2 / frame^2) of the joints
    ``foot_joints`` on frames where the prediction's own contact channel ``foot_contacts`` (real units)
    exceeds ``contact_threshold`` (zero when the layout has no contacts).

    Args:
        pred, x0: (B, T, C) normalised prediction and target.
        denormalize: normalised -> real units (a frame-rate-specific conversion may be folded in).
    """

    def per_sample(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1).mean(dim=1)

    mc = motion_channels.to(pred.device)
    pm, tm = pred.index_select(-1, mc), x0.index_select(-1, mc)
    pred_real = denormalize(pred)
    pos_pred = representation.joint_positions(pred_real)
    pos_true = representation.joint_positions(denormalize(x0))
    if foot_joints:
        feet = pos_pred[:, :, foot_joints]  # (B, T, k, 3)
        vel = feet[:, 1:] - feet[:, :-1]
        static = pred_real[:, :-1, foot_contacts] > contact_threshold  # (B, T-1, k)
        foot = per_sample((vel * static[..., None]).pow(2))
    else:
        foot = pred.new_zeros(pred.shape[0])
    return {
        "x0": per_sample((pred - x0).pow(2)),
        "vel": per_sample(((pm[:, 1:] - pm[:, :-1]) - (tm[:, 1:] - tm[:, :-1])).pow(2)),
        "fk": per_sample((pos_pred - pos_true).pow(2)),
        "foot": foot,
    }


def make_blend(representation) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Cross-fade for stitching windows: linear for positions/contacts, slerp for 6D rotations.

    The returned function takes (..., O, C) earlier and later frames and (O,) weights of the later.
    """
    rot = _rot6d_slice(representation)
    if rot is None:
        return linear_blend

    def blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
        from choreo.motion import rotations as R

        out = linear_blend(a, b, w)
        lead = a.shape[:-1]

        def quats(x: np.ndarray) -> torch.Tensor:
            six = torch.from_numpy(np.ascontiguousarray(x[..., rot], dtype=np.float64)).reshape(*lead, -1, 6)
            return R.matrix_to_quat(R.rot6d_to_matrix(six))

        qa, qb = quats(a), quats(b)
        tw = torch.as_tensor(w, dtype=qa.dtype)[:, None].expand(qa.shape[:-1])
        q = R.quat_slerp(qa, qb, tw)
        out[..., rot] = R.matrix_to_rot6d(R.quat_to_matrix(q)).reshape(*lead, -1).numpy()
        return out

    return blend


class EdgeMethod(Method):
    """EDGE as a trainable and samplable method.

    Args:
        config: :class:`EdgeConfig`.
        spec: the data spec: ``representation`` (``dim``, ``contact_channels``, ``joint_positions``,
            ``joint_channels``, ``skeleton``), ``normalizer`` (min-max, numpy and torch), ``feature_dim`` (F,
            music features per frame).
    """

    name = "edge"
    produces = "dance"
    sampling_options = ("guidance", "steps", "sampler", "eta", "precision")

    def __init__(self, config: EdgeConfig, spec):
        super().__init__(config, spec)
        if spec.representation is None or spec.normalizer is None:
            raise ChoreoError("EDGE needs a motion representation and a fitted normaliser")
        representation = spec.representation
        self.representation = representation
        self.window_frames = int(config.window_frames or spec.window_frames)
        self.normalizer = spec.normalizer
        self.feature_dim = int(spec.feature_dim)
        self.denoiser = EdgeDenoiser(
            motion_dim=representation.dim,
            music_dim=self.feature_dim,
            width=config.width,
            layers=config.layers,
            heads=config.heads,
            ff_size=config.ff_size,
            dropout=config.dropout,
            music_layers=config.music_layers,
            window_frames=self.window_frames,
            rotary_theta=config.rotary_theta,
        )
        self.diffusion = GaussianDiffusion(config.n_timesteps, config.schedule, config.cosine_s)
        self._motion_channels = torch.as_tensor(_non_contact_channels(representation))
        contacts = np.arange(representation.dim)[representation.contact_channels]
        # the foot loss needs the model's own contact prediction: none in layouts without contact channels
        feet = [(i, j) for i, j in enumerate(representation.skeleton.feet) if j >= 0 and i < len(contacts)]
        self._foot_joints = [j for _, j in feet]
        self._foot_contacts = [int(contacts[i]) for i, _ in feet if i < len(contacts)]

    # ---- training ------------------------------------------------------------------------------------
    def _training_draws(
        self, x0: torch.Tensor, seeds: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Timesteps (B,), noise like x0 and condition-keep flags (B,) for a training batch.

        With per-sample ``seeds`` (B,) every draw of sample i comes from its own generator, so a sample's
        noise does not depend on the batch it sits in or the number of processes.
        """
        B, dev, cfg = x0.shape[0], x0.device, self.config
        if seeds is None:
            t = torch.randint(0, cfg.n_timesteps, (B,), device=dev)
            return t, torch.randn_like(x0), torch.rand(B, device=dev) >= cfg.cond_dropout
        ts, noises, keeps = [], [], []
        for s in torch.as_tensor(seeds).reshape(-1).tolist():
            g = torch.Generator().manual_seed(int(s))
            ts.append(torch.randint(0, cfg.n_timesteps, (1,), generator=g))
            keeps.append(torch.rand(1, generator=g) >= cfg.cond_dropout)
            noises.append(torch.randn(x0.shape[1:], generator=g))
        t = torch.cat(ts).to(dev)
        return t, torch.stack(noises).to(dev, x0.dtype), torch.cat(keeps).to(dev)

    def training_loss(
        self, batch: dict, phase: str = "main", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """EDGE's objective, per sample, on ``{"motion": (B, T, C) normalised, "music": (B, T, F), "seed": (B,)}``.

        ``0.636 L_x0 + 2.964 L_vel + 0.646 L_fk + 10.942 L_foot`` (mean squared errors over each sample): x0
        reconstruction; frame-difference velocity of the non-contact channels; joint positions in
        metres (denormalised, then the representation's forward kinematics); foot velocity (metres per
        frame) of the foot joints on frames where the model's own contact prediction exceeds 0.95.
        Condition dropout replaces the music by the null embedding with probability ``cond_dropout``.

        Returns:
            the (B,) total loss (differentiable) and its (B,) parts ``x0, vel, fk, foot``.
        """
        cfg = self.config
        dev = self.device
        x0 = batch["motion"].to(dev, torch.float32)
        music = batch["music"].to(dev, torch.float32)
        t, noise, keep = self._training_draws(x0, batch.get("seed"))
        xt = self.diffusion.q_sample(x0, t, noise)
        pred = self.denoiser(xt, t, music, keep)
        terms = self.geometric_losses(pred, x0)
        total = (
            cfg.loss_x0 * terms["x0"]
            + cfg.loss_vel * terms["vel"]
            + cfg.loss_fk * terms["fk"]
            + cfg.loss_foot * terms["foot"]
        )
        return total, {k: v.detach() for k, v in terms.items()}

    def geometric_losses(self, pred: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """EDGE's four loss terms per sample, each (B,): ``x0``, ``vel``, ``fk`` (m^2), ``foot`` (m^2 / frame^2).

        Args:
            pred, x0: (B, T, C) normalised prediction and target.
        """
        return geometric_terms(
            pred,
            x0,
            self.representation,
            self.normalizer.denormalize,
            self._motion_channels,
            self._foot_joints,
            self._foot_contacts,
            self.config.contact_threshold,
        )

    # ---- sampling ------------------------------------------------------------------------------------
    def _denoise_fn(self, ctx: SamplingContext, weights: list[float]):
        """``(x, t, step) -> x0`` with classifier-free guidance, cond and uncond in one batched forward."""
        n = ctx.n

        def fn(x: torch.Tensor, t: int, i: int) -> torch.Tensor:
            # the network may run in bf16 (autocast); the sampler's arithmetic stays float32
            w = weights[i]
            if w == 1.0 or not ctx.has_uncond:
                return self.denoiser.forward_cached(x, t, ctx, slice(0, n)).float()
            if w == 0.0:
                return self.denoiser.forward_cached(x, t, ctx, slice(n, 2 * n)).float()
            both = self.denoiser.forward_cached(torch.cat((x, x), dim=0), t, ctx, slice(0, 2 * n)).float()
            return guided(both[:n], both[n:], w)

        return fn

    def _run(
        self,
        music: torch.Tensor,
        weights: list[float],
        steps: int,
        generators: list[torch.Generator],
        sampler: str,
        eta: float,
        known: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        plan: WindowPlan | None = None,
        lead: list[torch.Tensor] | None = None,
        on_step: Callable[[], None] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Denoise a batch of windows (n, W, F) -> normalised (n, W, C).

        Args:
            generators: one per window (its initial, per-step and inpainting noise).
            known / mask: (n, W, C) inpainting reference (normalised) and where it holds.
            plan: couple consecutive windows as EDGE does (None: windows are independent).
            lead: the trajectory (x after every step but the last) of the window just before this batch,
                from the previous chunk; the first window's shared frames follow it as if both had been
                in one batch.
        Returns:
            the clean windows and the trajectory of the last window (for the next chunk).
        """
        n, W, _ = music.shape
        ctx = self.denoiser.prepare(music, uncond=any(w != 1.0 for w in weights))
        x = randn_like(music.new_empty(n, W, self.representation.dim), generators)
        diffusion = self.diffusion
        trail: list[torch.Tensor] = []

        def post(x: torch.Tensor, t_next: int, i: int) -> torch.Tensor:
            if mask is not None:
                x = diffusion.constrain(x, known, mask, t_next, generators)
            if plan is not None and t_next >= 0:
                # EDGE: the first frames of window k+1 follow the last frames of window k after every step
                # but the last (the final windows are cross-faded instead)
                couple(x, plan)
                if lead is not None:
                    x[0, : plan.overlap] = lead[i][plan.hop :]
                trail.append(x[-1].clone())
            return x

        post_fn = post if (mask is not None or plan is not None) else None
        out = diffusion.sample_loop(
            self._denoise_fn(ctx, weights),
            x,
            steps,
            sampler,
            eta,
            generators,
            post_fn,
            clip_bounds(self.normalizer, self.device),
            on_step,
        )
        return out, trail

    def _check_music(self, music, ndim: int) -> torch.Tensor:
        m = torch.as_tensor(np.asarray(music, np.float32) if not torch.is_tensor(music) else music)
        if m.ndim != ndim or m.shape[-1] != self.feature_dim:
            want = "(frames, F)" if ndim == 2 else "(batch, frames, F)"
            raise ChoreoError(
                f"music features have shape {tuple(m.shape)}, expected {want} with F = {self.feature_dim}"
            )
        if not torch.isfinite(m).all():
            raise ChoreoError("music features contain NaN or infinite values")
        return m.to(self.device, torch.float32)

    def _normalize(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(self.normalizer.normalize(x), np.float32), device=self.device)

    def _denormalize(self, x: torch.Tensor) -> np.ndarray:
        out = self.normalizer.denormalize(x.detach().cpu().numpy())
        return np.asarray(out, np.float32)

    def _settings(self, steps, guidance, sampler, eta, precision=None) -> tuple[int, float, str, float, str]:
        o = self.sampling_settings(steps=steps, guidance=guidance, sampler=sampler, eta=eta, precision=precision)
        steps = int(o["steps"])
        if steps < 1:
            raise ChoreoError(f"the number of denoising steps must be at least 1, got {steps}")
        if o["sampler"] not in SAMPLERS:
            raise ChoreoError(f"unknown sampler {o['sampler']!r} (known: {', '.join(SAMPLERS)})")
        resolve_precision(str(o["precision"]), self.device)  # validates the name
        return steps, float(o["guidance"]), str(o["sampler"]), float(o["eta"]), str(o["precision"])

    @torch.inference_mode()
    def generate(
        self,
        music,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int = 0,
        constraint: Constraint | None = None,
        sampler: str | None = None,
        eta: float | None = None,
        window: int | None = None,
        chunk_windows: int = 32,
        ramp: bool | None = None,
        progress: bool = False,
        coupled: bool = True,
        precision: str | None = None,
    ) -> np.ndarray:
        """A dance of any length for one song, from overlapping windows (EDGE's long-form sampling).

        The song's (L, F) features are padded to whole windows of W frames every H = W // 2 (the
        padding mirrors the song's end; the dance is cropped back to L). All windows are denoised
        together; after every step but the last, the first W - H frames of each window are replaced by
        the last W - H frames of the previous one. The finished windows are stitched by cross-fading
        the shared frames (root and positions linearly, 6D rotations by slerp).

        Memory stays bounded on any song: at most ``chunk_windows`` windows go through the network
        at once. Because each window only follows its predecessor, chunks run one after another: the
        first window of a chunk follows the recorded trajectory of the previous chunk's last window,
        and every window draws its noise from its own generator, so the result does not depend on the
        chunk size (up to float rounding).

        Args:
            music: (L, F) features at the model fps.
            steps, guidance, sampler, eta: defaults from the config.
            seed: window k's noise comes from a CPU generator seeded by (seed, k).
            constraint: editing constraint over (L, C) (real units); masked entries of the result equal it.
            window: frames per window (default: the model's window).
            chunk_windows: most windows per batched forward (>= 1).
            ramp: ramp the guidance from 0 to w over the first half of the steps (default: when there
                is more than one coupled window, as EDGE does).
            progress: show a tqdm bar over all denoising steps.
            coupled: False samples windows independently, end to end with no overlap (an ablation: it
                shows the seams coupling removes).
            precision: ``fp32``, ``bf16`` or ``auto`` for the network (default: the config's).
        Returns:
            (L, C) float32 motion tensor in real units.
        """
        steps, guidance, sampler, eta, precision = self._settings(steps, guidance, sampler, eta, precision)
        m = self._check_music(music, 2)
        L, C = m.shape[0], self.representation.dim
        W = int(window or self.window_frames)
        plan = plan_windows(L, W, None if coupled else W)
        if constraint is not None and constraint.known.shape != (L, C):
            raise ChoreoError(f"edit constraint has shape {constraint.known.shape}, expected ({L}, {C})")
        feats = torch.as_tensor(pad_frames(m.cpu().numpy(), plan.padded_frames), device=self.device)
        use_ramp = (plan.n_windows > 1 and coupled) if ramp is None else ramp
        weights = guidance_ramp(guidance, steps) if use_ramp else [guidance] * steps
        gens = window_generators(seed, plan.n_windows)

        # windows are cut chunk by chunk, so memory grows with the song only by its (L, F + C) arrays
        known_full = mask_full = None
        if constraint is not None and constraint.mask.any():
            known_full = torch.zeros(plan.padded_frames, C, device=self.device)
            mask_full = torch.zeros(plan.padded_frames, C, dtype=torch.bool, device=self.device)
            known_full[:L] = self._normalize(constraint.known)
            mask_full[:L] = torch.as_tensor(constraint.mask, device=self.device)

        chunk = max(1, int(chunk_windows))
        bar = progress_bar(steps * -(-plan.n_windows // chunk), progress)
        out = torch.empty(plan.n_windows, plan.window, C, device=self.device)
        lead = None
        for a in range(0, plan.n_windows, chunk):
            b = min(a + chunk, plan.n_windows)
            known = mask = None
            if mask_full is not None:
                mask = split_windows(mask_full, plan, a, b)
                known, mask = (split_windows(known_full, plan, a, b), mask) if bool(mask.any()) else (None, None)
            music_ab = split_windows(feats, plan, a, b)
            with network_precision(precision, self.device):
                out[a:b], lead = self._run(
                    music_ab,
                    weights,
                    steps,
                    gens[a:b],
                    sampler,
                    eta,
                    known,
                    mask,
                    plan if coupled else None,
                    lead,
                    bar.update,
                )
            lead = lead if coupled else None
        bar.close()
        motion = stitch(self._denormalize(out), plan, make_blend(self.representation))
        if constraint is not None:
            motion = np.where(constraint.mask, constraint.known, motion).astype(np.float32)
        return motion


def window_generators(seed: int, n: int) -> list[torch.Generator]:
    """``n`` independent CPU generators derived from ``(seed, k)`` (numpy's SeedSequence)."""
    states = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF]).spawn(n)
    return [torch.Generator().manual_seed(int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))) for ss in states]


def build_edge(model_config: dict | None, spec) -> EdgeMethod:
    """Registry entry: an :class:`EdgeMethod` from its config dict and the data spec."""
    return EdgeMethod(EdgeConfig.from_dict(model_config), spec)
