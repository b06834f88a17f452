"""DiffDance as one trainable and samplable method: its five components and the units between its stages.

:class:`DiffDanceMethod` holds

- ``music_encoder`` and ``motion_encoder`` (:class:`~choreo.models.diffdance.align.SequenceEncoder`): per-frame
  embeddings of the music features and of the motion, trained together with InfoNCE (stage 1);
- ``adapter`` (:class:`~choreo.models.diffdance.align.Adapter`): the paper's 2-layer MLP on the music embedding,
  trained with InfoNCE against the frozen motion encoder (stage 2);
- ``base`` (:class:`~choreo.models.diffdance.denoiser.StageDenoiser`): diffusion over the dance at the low frame
  rate ``low_fps`` (the data's ``motion@<low_fps>``, paper 15 fps) over the long training window (paper 20 s);
  with ``style_cond`` (choreo's addition) it also takes the dance style as a one-hot code beside the music;
- ``ssr``: sequence super-resolution diffusion at the full rate, conditioned on the low-rate dance
  (channel-concatenated, noised to a conditioning-augmentation level s that is an input).

The training schedule is :mod:`~choreo.models.diffdance.phases`, the losses :mod:`~choreo.models.diffdance.loss`,
the sampler :mod:`~choreo.models.diffdance.sampling`.

Units: motion tensors are normalised to [-1, 1] by the data's (full-rate) normaliser. The base stage works
on the low-rate dance with its ``+rootvel`` displacement channels divided by the rate ratio ``r`` (metres per
full-rate frame, the unit the normaliser was fitted on, so they stay in range and upsample directly).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from choreo.errors import ChoreoError
from choreo.models.diffdance import loss as losses
from choreo.models.diffdance.align import Adapter, SequenceEncoder, pool
from choreo.models.diffdance.config import SAMPLING_OPTIONS, DiffDanceConfig
from choreo.models.diffdance.denoiser import StageDenoiser
from choreo.models.diffdance.phases import PHASES, build_optimizers, phase_of
from choreo.models.diffdance.sampling import CascadeResult, cascade
from choreo.models.diffusion import GaussianDiffusion
from choreo.models.edge import _non_contact_channels
from choreo.models.editing import Constraint
from choreo.models.method import Method, Optimization, style_index


class DiffDanceMethod(Method):
    """DiffDance as a trainable and samplable method (see the module docstring).

    Args:
        config: :class:`~choreo.models.diffdance.config.DiffDanceConfig`.
        spec: the data spec: ``representation``, ``normalizer``, ``feature_dim``, ``fps``, ``window_frames``
            and ``extra_fps`` (must hold ``low_fps``: set ``data.extra_fps`` in the run config).
    """

    name = "diffdance"
    produces = "dance"
    ema_components = ("base", "ssr")
    sampling_options = SAMPLING_OPTIONS

    @classmethod
    def takes_style(cls, model_config: dict) -> bool:
        """A DiffDance model takes a dance style when it was trained with ``style_cond``."""
        return bool(model_config.get("style_cond", False))

    @classmethod
    def sampling_stages(cls, model_config: dict) -> dict[str, int]:
        """The base stage runs ``steps``, the sequence super-resolution ``ssr_steps`` (None: the same)."""
        steps = int(model_config.get("steps", DiffDanceConfig.steps))
        ssr = model_config.get("ssr_steps")
        return {"base": steps, "ssr": steps if ssr is None else int(ssr)}

    def __init__(self, config: DiffDanceConfig, spec):
        super().__init__(config, spec)
        if spec.representation is None or spec.normalizer is None:
            raise ChoreoError("DiffDance needs a motion representation and a fitted normaliser")
        rep = spec.representation
        self.representation, self.normalizer = rep, spec.normalizer
        self.feature_dim, self.fps = int(spec.feature_dim), float(spec.fps)
        extra = tuple(float(f) for f in (spec.extra_fps or ()))
        low = float(config.low_fps) if config.low_fps is not None else (extra[0] if extra else None)
        if low is None or low <= 0:
            raise ChoreoError(
                "DiffDance's base stage needs the motion at a lower frame rate: set data.extra_fps (e.g. "
                f"[{self.fps / 2:g}]) and optionally model.low_fps"
            )
        ratio = self.fps / low
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ChoreoError(
                f"the base frame rate {low:g} must divide the data's {self.fps:g} fps a whole number of times"
            )
        self.low_fps, self.factor = low, int(round(ratio))
        self.low_key = f"motion@{low:g}"
        W = int(spec.window_frames)
        self.window_frames = W
        self.base_window = int(config.base_window or max(2, int(round(W / self.factor))))
        self.ssr_window = int(max(2, config.ssr_window))
        self.clip_frames = max(2, min(W, int(round(config.clip_seconds * self.fps))))
        C, E = rep.dim, int(config.embed_dim)
        self.styles: tuple[str, ...] = tuple(str(s) for s in (getattr(spec, "styles", None) or ()))
        if config.style_cond and not self.styles:
            raise ChoreoError(
                "style_cond needs style labels: set data.style_labels: true, with a data folder whose sequence "
                "names tell their styles (Dance with Melody, AIST++)"
            )
        if not config.style_cond:
            self.styles = ()

        self.music_encoder = SequenceEncoder(
            self.feature_dim,
            config.encoder_width,
            E,
            config.encoder_layers,
            config.encoder_kernel,
            config.encoder_dropout,
            temperature=config.temperature,
        )
        self.motion_encoder = SequenceEncoder(
            C, config.encoder_width, E, config.encoder_layers, config.encoder_kernel, config.encoder_dropout
        )
        self.adapter = Adapter(E, config.adapter_hidden, config.temperature)
        self.base = StageDenoiser(
            C,
            E,
            config.width,
            config.layers,
            config.heads,
            config.ff_size,
            config.dropout,
            0,
            config.rotary_theta,
            len(self.styles) + 1 if self.styles else 0,
        )
        self.ssr = StageDenoiser(
            C,
            E,
            config.ssr_width,
            config.ssr_layers,
            config.ssr_heads,
            config.ssr_ff_size,
            config.dropout,
            C,
            config.rotary_theta,
        )
        self.diffusion = GaussianDiffusion(config.n_timesteps, config.schedule, config.cosine_s)
        # what the geometric losses need: the channels that are not contacts, and which contact is which foot
        self.motion_channels = torch.as_tensor(_non_contact_channels(rep))
        contacts = np.arange(rep.dim)[rep.contact_channels]
        feet = [(i, j) for i, j in enumerate(rep.skeleton.feet) if j >= 0 and i < len(contacts)]
        self.foot_joints = [j for _, j in feet]
        self.foot_contacts = [int(contacts[i]) for i, _ in feet]
        # low-rate displacement channels are kept per full-rate frame (see the module docstring)
        scale = np.ones(C, np.float32)
        scale[list(rep.root_velocity_channels)] = float(self.factor)
        self.register_buffer("stage_scale", torch.from_numpy(scale), persistent=False)

    # ---- units -------------------------------------------------------------------------------------------
    def to_stage(self, low: torch.Tensor) -> torch.Tensor:
        """Normalised low-rate data (real encoding at ``low_fps``) -> normalised stage units."""
        if not self.representation.root_velocity_channels:
            return low
        real = self.normalizer.denormalize(low.double()) / self.stage_scale.double()
        return self.normalizer.normalize(real).to(low.dtype)

    def stage_to_real(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised stage units -> real units of the encoding at ``low_fps`` (differentiable)."""
        return self.normalizer.denormalize(x) * self.stage_scale.to(x.dtype)

    def normalize_real(self, x: np.ndarray) -> torch.Tensor:
        """(..., C) real units -> normalised tensor on the model's device."""
        return torch.as_tensor(np.asarray(self.normalizer.normalize(x), np.float32), device=self.device)

    def denormalize_real(self, x: torch.Tensor) -> np.ndarray:
        """Normalised tensor (..., C) -> float32 real units."""
        return np.asarray(self.normalizer.denormalize(x.detach().cpu().numpy()), np.float32)

    def check_music(self, music) -> torch.Tensor:
        """(L, F) music features (array or tensor) -> float32 tensor on the device; a ChoreoError for the wrong
        number of features, no frames, or values that are not finite."""
        m = torch.as_tensor(np.asarray(music, np.float32) if not torch.is_tensor(music) else music)
        if m.ndim != 2 or m.shape[-1] != self.feature_dim:
            raise ChoreoError(
                f"music features have shape {tuple(m.shape)}, expected (frames, F) with F = {self.feature_dim}"
            )
        if m.shape[0] < 1:
            raise ChoreoError("no music frames to dance to")
        if not torch.isfinite(m).all():
            raise ChoreoError("music features contain NaN or infinite values")
        return m.to(self.device, torch.float32)

    # ---- conditions --------------------------------------------------------------------------------------
    def embed_music(self, music: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T, E) adapted per-frame embedding, the diffusion models' condition."""
        return self.adapter(self.music_encoder(music))

    def style_index(self, style: str | int | None) -> int:
        """A style's index for this model (None or "": unknown, ``len(styles)``); a ChoreoError for a style it
        does not know (:func:`~choreo.models.method.style_index`)."""
        return style_index(self.styles, style, unknown=len(self.styles))

    def with_style(self, cond: torch.Tensor, style: torch.Tensor | None) -> torch.Tensor:
        """(B, T, E) base condition -> (B, T, E + S + 1) with each sample's one-hot style (index S: unknown);
        unchanged for a model without styles."""
        if not self.styles:
            return cond
        code = F.one_hot(style.long(), len(self.styles) + 1).to(cond.dtype)  # (B, S + 1)
        return torch.cat((cond, code[:, None, :].expand(-1, cond.shape[1], -1)), dim=-1)

    @torch.inference_mode()
    def clip_embeddings(self, motion: torch.Tensor, music: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Unit-length clip embeddings of paired clips, for retrieval
        (:func:`~choreo.metrics.retrieval.retrieval_report`).

        Args:
            motion: (N, T, C) normalised motion clips at the model fps; music: (N, T, F) their features.
        Returns:
            ``{"motion": (N, E), "music": (N, E) before the adapter (stage 1), "adapted": (N, E) after it}``.
        """
        out: dict[str, list[torch.Tensor]] = {"motion": [], "music": [], "adapted": []}
        for a in range(0, motion.shape[0], batch):
            x = motion[a : a + batch].to(self.device, torch.float32)
            m = music[a : a + batch].to(self.device, torch.float32)
            frames = self.music_encoder(m)
            out["motion"].append(self.motion_encoder.embed(x).cpu())
            out["music"].append(pool(frames).cpu())
            out["adapted"].append(pool(self.adapter(frames)).cpu())
        return {k: torch.cat(v) for k, v in out.items()}

    @torch.inference_mode()
    def frame_embeddings(self, motion: torch.Tensor, music: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame embeddings of paired clips, for time-aligned retrieval
        (:func:`~choreo.metrics.retrieval.frame_similarity`).

        Args:
            motion: (N, T, C) normalised motion clips; music: (N, T, F) their features.
        Returns:
            ``{"motion", "music", "adapted"}``, each (N, T, E) (not normalised).
        """
        x = motion.to(self.device, torch.float32)
        frames = self.music_encoder(music.to(self.device, torch.float32))
        return {"motion": self.motion_encoder(x).cpu(), "music": frames.cpu(), "adapted": self.adapter(frames).cpu()}

    # ---- training ----------------------------------------------------------------------------------------
    def phase_of(self, step: int) -> str:
        """``encoders``, ``adapter`` or ``diffusion``: which stage global step ``step`` trains."""
        return phase_of(self.config, step)

    def phases(self, step: int) -> tuple[str, ...]:
        return (phase_of(self.config, step),)

    def configure_optimizers(self, train) -> dict[str, Optimization]:
        """One optimiser per stage (:func:`~choreo.models.diffdance.phases.build_optimizers`)."""
        return build_optimizers(self, train)

    def training_loss(
        self, batch: dict, phase: str = "diffusion", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict]:
        """Per-sample loss (B,) of one stage on ``{"motion", "music", "motion@<low_fps>", "seed"}``.

        Every phase logs the same terms (NaN where the phase does not compute them, so that one log.csv
        holds all stages): ``stage`` (0, 1, 2), ``nce`` and ``temperature`` (contrastive stages),
        ``base_*`` and ``ssr_*`` (x0, vel, fk, foot; unweighted) and ``geo_weight`` (diffusion).
        """
        if phase not in PHASES:
            raise ChoreoError(f"DiffDance has no training phase {phase!r} ({', '.join(PHASES)})")
        dev = self.device
        x = batch["motion"].to(dev, torch.float32)
        seeds = batch.get("seed")
        if seeds is None:
            seeds = torch.arange(x.shape[0])
        nan = float("nan")
        logs: dict = {"stage": float(PHASES.index(phase)), "nce": nan, "temperature": nan, "geo_weight": nan}
        for stage in ("base", "ssr"):
            for k in ("x0", "vel", "fk", "foot"):
                logs[f"{stage}_{k}"] = nan
        music = batch["music"].to(dev, torch.float32)
        if phase in ("encoders", "adapter"):
            loss, temp = losses.contrastive_loss(self, x, music, seeds, phase)
            logs.update(nce=loss.detach(), temperature=temp)
            return loss, logs
        if self.low_key not in batch:
            raise ChoreoError(
                f"the batches lack {self.low_key!r}: set data.extra_fps: [{self.low_fps:g}] in the config"
            )
        style = None
        if self.styles:
            if "style" not in batch:
                raise ChoreoError("this model takes dance styles: the batches lack 'style' (data.style_labels: true)")
            style = losses.train_styles(self, batch["style"], seeds)
        loss, terms = losses.diffusion_loss(self, x, music, batch[self.low_key].to(dev, torch.float32), seeds, style)
        logs.update(terms)
        return loss, logs

    # ---- sampling ----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def cascade(
        self,
        music,
        seed: int = 0,
        constraint: Constraint | None = None,
        progress: bool = False,
        chunk_windows: int | None = None,
        ramp: bool | None = None,
        coupled: bool = True,
        **options,
    ) -> CascadeResult:
        """Both stages for one song: the low-rate dance and the full-rate one
        (:func:`~choreo.models.diffdance.sampling.cascade`; ``options``: the sampling options)."""
        return cascade(self, music, seed, constraint, progress, chunk_windows, ramp, coupled, **options)

    def generate(
        self,
        music,
        seed: int = 0,
        constraint: Constraint | None = None,
        progress: bool = False,
        **settings,
    ) -> np.ndarray:
        """A dance of any length for one song: (L, F) features at the model fps -> (L, C) real units.

        ``settings``: the sampling options (:data:`~choreo.models.diffdance.config.SAMPLING_OPTIONS`) and
        ``chunk_windows``, ``ramp``, ``coupled`` (see :meth:`cascade`).
        """
        return self.cascade(music, seed=seed, constraint=constraint, progress=progress, **settings).motion


def build_diffdance(model_config: dict | None, spec) -> DiffDanceMethod:
    """Registry entry: a :class:`DiffDanceMethod` from its config dict and the data spec."""
    return DiffDanceMethod(DiffDanceConfig.from_dict(model_config), spec)
