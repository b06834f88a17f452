"""Dance Revolution (Huang et al., ICLR 2021): a music encoder with local self-attention, a recurrent pose
decoder and the "dynamic auto-condition" curriculum.

:class:`DanceRevolutionMethod` has two components:

- ``encoder`` (:class:`MusicEncoder`): Linear(F -> d) + sinusoidal positions + N post-LayerNorm transformer
  layers whose self-attention only sees frames with ``|i - j| <= band`` (:func:`banded_attention`: one
  ``scaled_dot_product_attention`` with a boolean band mask, or query blocks of ``attention_chunk`` frames
  against their band of keys, so memory grows linearly with the sequence, never quadratically);
- ``decoder`` (:class:`PoseDecoder`): Linear(C -> pose_embed) -> stacked LSTM (paper 3 x 1024) -> Linear([h;
  enc_t] -> C). Step t reads the previous pose (frame t-1; a fixed start pose at t = 0) and writes frame t,
  next to the music encoding of frame t. The initial hidden and cell states are random (N(0, s^2), drawn from
  the per-sample seed): the only source of variety between dances for one song, as in the released code.

Training (:meth:`DanceRevolutionMethod.training_loss`): the decoder's input at step t >= 1 is either the
ground-truth frame t-1 or its own (detached) prediction of it, in the repeating pattern [p self-fed frames,
``condition_frames`` (10) ground-truth frames] over the input frames 0, 1, ...; p follows the schedule
(:func:`self_fed_frames`): ``teacher_forcing`` (0), ``const`` (``const_frames``), ``linear`` floor(lambda t),
``quadratic`` floor(lambda t^2) or ``exponential`` floor(lambda e^t), with t the trainer's (fractional) epoch.
The loss is the L1 distance per sample (mean over frames and channels, normalised units).

Generation (:meth:`DanceRevolutionMethod.generate`): the whole song, one frame at a time, at the model fps.
The encoder runs over windows of the training length whose outer ``context`` frames are thrown away, so every
kept frame sees its whole receptive field (``layers x band`` frames each side, at most a quarter window) and
its positions stay in the range training saw; memory is O(window^2) for the encoder and O(1) per decoder step
(plus the (L, F) features and the (L, C) dance). An editing constraint (continuation from a seed motion) is a
teacher-forced prefix: wherever the constraint holds, the decoder's output is replaced by the reference
before it is fed back.

What choreo keeps of the released code (``stonyhu/DanceRevolution`` v2) and what it changes:

- kept: post-LayerNorm encoder layers (attention d_k = d_v = 64 per head, ReLU feed-forward), random N(0, 1)
  initial LSTM states, a 10-frame ground-truth segment, the [self-fed, ground-truth] order of the pattern,
  detached self-fed inputs, L1 loss, Adam 1e-4, dropout on the pose embedding;
- changed: (1) the released decoder's layers 2 and 3 read the *previous* step's hidden state of the layer
  below; choreo stacks the LSTM the standard way (``nn.LSTM``: the current step's output of the layer below),
  which also lets teacher-forced runs go through the LSTM in one call; (2) the released training pairs music
  frame i with target frame i + 1 but generation pairs music frame i with output frame i; choreo pairs them
  the same way in both (output frame t next to music frame t); (3) the released training starts a window
  from the ground-truth frame 0 while generation starts from the start pose (BOS); choreo always starts from
  the start pose, so training sees what generation does; (4) positions are computed for any length (the
  released table stops at ``max_seq_len``), and generation keeps every frame's position within the training
  window; (5) the raw librosa features span 4 orders of magnitude (MFCC 0 is about -600, the tempogram
  0-1): ``music_compress="log1p"`` (default) feeds sign(x) log(1 + |x|) to the first Linear; ``"none"`` is
  the released behaviour; (6) the start pose is the normaliser's mid-range pose (0 in normalised units) for
  every representation, where the released code has a hand-written 2D standing pose (BOS_POSE).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from choreo.errors import ChoreoError
from choreo.models.editing import Constraint
from choreo.models.method import Method, config_from_dict

#: curriculum schedules (:func:`self_fed_frames`).
SCHEDULES = ("teacher_forcing", "const", "linear", "quadratic", "exponential")
MUSIC_COMPRESSION = ("log1p", "none")


@dataclass
class DanceRevolutionConfig:
    """Dance Revolution's settings; the defaults are the released training script's (``v2/train.py``).

    Attributes:
        d_model: encoder width (released ``frame_emb_size`` 200).
        layers: encoder layers (2); heads, d_head: attention heads and their size (8 x 64);
        ff_size: encoder feed-forward size (1024).
        band: local attention half-width w in frames: frame i attends to frames j with |i - j| <= w (100).
        dropout: dropout in the encoder and on the decoder's pose embedding (0.1).
        music_compress: ``"log1p"`` (sign(x) log(1 + |x|) on the raw features, choreo's default) or ``"none"``.
        pose_embed: the decoder's input embedding size (50).
        hidden, lstm_layers: the decoder LSTM (3 x 1024).
        schedule: curriculum (``teacher_forcing``, ``const``, ``linear``, ``quadratic``, ``exponential``).
        curriculum_lambda: lambda of the growing schedules (released: 0.01 per epoch).
        condition_frames: ground-truth frames per period of the pattern (10).
        const_frames: self-fed frames per period under ``const``.
        init_state_std: std of the random initial LSTM states (1.0), in training and (by default) sampling; 0
            makes sampling deterministic.
        attention_chunk: query frames per attention block on sequences longer than this (memory O(T (chunk +
            2 band)) instead of O(T^2)).
        encoder_window: frames per encoder window at generation (None: the training window).
    """

    d_model: int = 200
    layers: int = 2
    heads: int = 8
    d_head: int = 64
    ff_size: int = 1024
    band: int = 100
    dropout: float = 0.1
    music_compress: str = "log1p"
    pose_embed: int = 50
    hidden: int = 1024
    lstm_layers: int = 3
    schedule: str = "linear"
    curriculum_lambda: float = 0.01
    condition_frames: int = 10
    const_frames: int = 10
    init_state_std: float = 1.0
    attention_chunk: int = 512
    encoder_window: int | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> DanceRevolutionConfig:
        """Build from a plain dict (unknown keys and impossible values are a ChoreoError naming them)."""
        cfg = config_from_dict(cls, d, "Dance Revolution model")
        if cfg.schedule not in SCHEDULES:
            raise ChoreoError(f"unknown curriculum schedule {cfg.schedule!r} (known: {', '.join(SCHEDULES)})")
        if cfg.music_compress not in MUSIC_COMPRESSION:
            raise ChoreoError(
                f"music_compress must be one of {', '.join(MUSIC_COMPRESSION)}, got {cfg.music_compress!r}"
            )
        if cfg.d_model % 2:
            raise ChoreoError(f"d_model must be even (sinusoidal positions), got {cfg.d_model}")
        positive = ("d_model", "layers", "heads", "d_head", "ff_size", "pose_embed", "hidden", "lstm_layers")
        bad = [k for k in positive if getattr(cfg, k) < 1]
        if bad or cfg.band < 0 or cfg.condition_frames < 1 or cfg.const_frames < 0 or cfg.attention_chunk < 1:
            raise ChoreoError(
                "Dance Revolution sizes must be >= 1, band and const_frames >= 0, condition_frames >= 1"
                + (f" (got {', '.join(f'{k}={getattr(cfg, k)}' for k in bad)})" if bad else "")
            )
        if cfg.curriculum_lambda < 0 or cfg.init_state_std < 0:
            raise ChoreoError("curriculum_lambda and init_state_std must be >= 0")
        if cfg.encoder_window is not None and cfg.encoder_window < 2:
            raise ChoreoError(f"encoder_window must be at least 2 frames, got {cfg.encoder_window}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---- curriculum -----------------------------------------------------------------------------------------
def self_fed_frames(schedule: str, epoch: float, lam: float = 0.01, const: int = 10) -> int:
    """p, the self-fed frames per period of the curriculum at (fractional) ``epoch``.

    ``teacher_forcing``: 0; ``const``: ``const``; ``linear``: floor(lam t); ``quadratic``: floor(lam t^2);
    ``exponential``: floor(lam e^t) (t = epoch >= 0; capped at 2^31 - 1 frames).
    """
    if schedule not in SCHEDULES:
        raise ChoreoError(f"unknown curriculum schedule {schedule!r} (known: {', '.join(SCHEDULES)})")
    if schedule == "teacher_forcing":
        return 0
    if schedule == "const":
        return int(const)
    t = max(0.0, float(epoch))
    if schedule == "linear":
        v = lam * t
    elif schedule == "quadratic":
        v = lam * t * t
    else:
        v = lam * math.exp(min(t, 700.0))
    return 2**31 - 1 if not v < 2**31 - 1 else int(math.floor(v))


def teacher_mask(n_steps: int, p: int, q: int = 10) -> torch.Tensor:
    """(n_steps,) bool: whether decoder step t reads the ground-truth frame t-1 (else its own prediction of it).

    The input frames 0, 1, 2, ... follow the repeating pattern [p self-fed, q ground truth]: step t (input frame
    t - 1) is teacher-forced when (t - 1) mod (p + q) >= p. Step 0 reads the start pose (False).
    """
    t = torch.arange(n_steps)
    mask = ((t - 1) % (int(p) + int(q))) >= int(p)
    mask[:1] = False
    return mask


# ---- encoder --------------------------------------------------------------------------------------------
def band_mask(n_q: int, n_k: int, band: int, q_offset: int = 0, device=None) -> torch.Tensor:
    """(n_q, n_k) bool, True where query i (frame ``q_offset + i``) may attend key j: |q_offset + i - j| <= band."""
    qi = torch.arange(n_q, device=device)[:, None] + int(q_offset)
    kj = torch.arange(n_k, device=device)[None, :]
    return (qi - kj).abs() <= int(band)


def banded_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, band: int, chunk: int = 512, dropout_p: float = 0.0
) -> torch.Tensor:
    """Scaled dot-product attention restricted to |i - j| <= band, for (B, H, T, D) queries, keys and values.

    Sequences of at most ``chunk`` frames take one ``scaled_dot_product_attention`` with a (T, T) band mask;
    longer ones go in blocks of ``chunk`` queries against keys [start - band, end + band), which gives the same
    result with O(T (chunk + 2 band)) memory. Every query sees at least itself, so no row is empty.

    Returns:
        (B, H, T, D).
    """
    T = q.shape[-2]
    if band >= T - 1:  # the band covers the whole sequence: plain attention
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    if T <= chunk:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=band_mask(T, T, band, 0, q.device), dropout_p=dropout_p
        )
    out = []
    for a in range(0, T, chunk):
        b = min(T, a + chunk)
        ka, kb = max(0, a - band), min(T, b + band)
        mask = band_mask(b - a, kb - ka, band, a - ka, q.device)
        out.append(
            F.scaled_dot_product_attention(
                q[..., a:b, :], k[..., ka:kb, :], v[..., ka:kb, :], attn_mask=mask, dropout_p=dropout_p
            )
        )
    return torch.cat(out, dim=-2)


def sinusoid_positions(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(T,) frame positions -> (T, dim) encodings: sin on even, cos on odd channels, angle pos / 10000^(2i/dim)."""
    pos = positions.to(torch.float32)[:, None]
    i = torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / dim)
    out = torch.empty(len(positions), dim, device=positions.device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)
    return out


class BandedSelfAttention(nn.Module):
    """Multi-head self-attention over |i - j| <= band (heads x d_head inner size, as the released code)."""

    def __init__(self, d_model: int, heads: int, d_head: int, dropout: float):
        super().__init__()
        self.heads, self.d_head, self.dropout = heads, d_head, dropout
        self.qkv = nn.Linear(d_model, 3 * heads * d_head)
        self.out = nn.Linear(heads * d_head, d_model)

    def forward(self, x: torch.Tensor, band: int, chunk: int) -> torch.Tensor:
        """(B, T, d) -> (B, T, d)."""
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, self.d_head).permute(2, 0, 3, 1, 4)
        o = banded_attention(q, k, v, band, chunk, self.dropout if self.training else 0.0)
        return self.out(o.transpose(1, 2).reshape(B, T, self.heads * self.d_head))


class EncoderLayer(nn.Module):
    """Post-LayerNorm transformer layer (the released code's): x = LN(x + attn(x)); x = LN(x + ff(x))."""

    def __init__(self, d_model: int, heads: int, d_head: int, ff_size: int, dropout: float):
        super().__init__()
        self.attn = BandedSelfAttention(d_model, heads, d_head, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_size), nn.ReLU(), nn.Linear(ff_size, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, band: int, chunk: int) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attn(x, band, chunk)))
        return self.norm2(x + self.drop(self.ff(x)))


class MusicEncoder(nn.Module):
    """Music features (B, T, F) at the model fps -> (B, T, d_model), local self-attention only.

    The output at frame t depends on the input frames within ``layers * band`` of t (and on t's position).
    """

    def __init__(
        self,
        music_dim: int,
        d_model: int,
        layers: int,
        heads: int,
        d_head: int,
        ff_size: int,
        band: int,
        dropout: float,
        compress: str = "log1p",
        chunk: int = 512,
    ):
        super().__init__()
        self.band, self.chunk, self.compress, self.d_model = int(band), int(chunk), compress, d_model
        self.embed = nn.Linear(music_dim, d_model)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, d_head, ff_size, dropout) for _ in range(layers))

    @property
    def receptive_field(self) -> int:
        """Frames on each side of t that the output at t can depend on."""
        return len(self.layers) * self.band

    def forward(self, music: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Encode (B, T, F) music; ``positions`` (T,) (default 0..T-1) feed the sinusoidal encoding."""
        if self.compress == "log1p":
            music = torch.sign(music) * torch.log1p(music.abs())
        T = music.shape[1]
        if positions is None:
            positions = torch.arange(T, device=music.device)
        x = self.drop(self.embed(music) + sinusoid_positions(positions, self.d_model))
        for layer in self.layers:
            x = layer(x, self.band, self.chunk)
        return x


# ---- decoder --------------------------------------------------------------------------------------------
class PoseDecoder(nn.Module):
    """Previous pose (B, C) -> next pose (B, C), one frame per step, next to the music encoding of that frame.

    ``embed``: Linear(C -> pose_embed) + dropout; ``lstm``: stacked LSTM; ``out``: Linear([h_top; enc_t] -> C).
    State: (h, c), each (lstm_layers, B, hidden).
    """

    def __init__(self, pose_dim: int, d_model: int, pose_embed: int, hidden: int, lstm_layers: int, dropout: float):
        super().__init__()
        self.pose_dim, self.hidden, self.lstm_layers = pose_dim, hidden, lstm_layers
        self.embed = nn.Linear(pose_dim, pose_embed)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(pose_embed, hidden, num_layers=lstm_layers, batch_first=True)
        self.out = nn.Linear(hidden + d_model, pose_dim)

    def run(
        self, poses: torch.Tensor, enc: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Steps fed with known input poses (B, n, C) next to music encodings (B, n, d) -> (B, n, C), state."""
        h, state = self.lstm(self.drop(self.embed(poses)), state)
        return self.out(torch.cat([h, enc], dim=-1)), state

    def start_pose(self, batch: int, device, dtype=torch.float32) -> torch.Tensor:
        """(B, C) the fixed start pose: the normaliser's mid-range pose (0 in normalised units)."""
        return torch.zeros(batch, self.pose_dim, device=device, dtype=dtype)

    def unroll(
        self,
        enc: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        target: torch.Tensor | None = None,
        teacher: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The decoder over T steps under a curriculum mask (training).

        Args:
            enc: (B, T, d) music encodings.
            state: initial (h, c).
            target: (B, T, C) ground truth (needed where ``teacher`` is True).
            teacher: (T,) bool from :func:`teacher_mask` (None: never teacher-forced).
        Returns:
            (B, T, C) predictions; the self-fed inputs are the previous predictions, detached (no gradient flows
            through a fed-back prediction, as in the released code).
        """
        B, T, _ = enc.shape
        flags = [False] * T if teacher is None else [bool(x) for x in teacher.tolist()]
        outs: list[torch.Tensor] = []
        prev = self.start_pose(B, enc.device, enc.dtype)
        t = 0
        while t < T:
            if t > 0 and flags[t]:
                e = t
                while e < T and flags[e]:
                    e += 1
                # a run of teacher-forced steps goes through the LSTM in one call
                y, state = self.run(target[:, t - 1 : e - 1], enc[:, t:e], state)
                t = e
            else:
                y, state = self.run(prev[:, None], enc[:, t : t + 1], state)
                t += 1
            outs.append(y)
            prev = y[:, -1].detach()
        return torch.cat(outs, dim=1)


def initial_state(
    seeds, batch: int, layers: int, hidden: int, std: float, device, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random initial (h, c), each (layers, B, hidden) ~ N(0, std^2).

    Sample i's states come from a generator seeded with ``seeds[i]`` (training: the trainer's per-sample seeds,
    so resume and process count do not change them); with ``seeds=None`` from ``generator``.
    """
    if std == 0:
        z = torch.zeros(layers, batch, hidden, device=device)
        return z, z.clone()
    hs, cs = [], []
    if seeds is None:
        for _ in range(batch):
            hs.append(torch.randn(layers, hidden, generator=generator))
            cs.append(torch.randn(layers, hidden, generator=generator))
    else:
        for s in torch.as_tensor(seeds).reshape(-1).tolist():
            g = torch.Generator().manual_seed(int(s))
            hs.append(torch.randn(layers, hidden, generator=g))
            cs.append(torch.randn(layers, hidden, generator=g))
    h = torch.stack(hs, dim=1).to(device) * std
    c = torch.stack(cs, dim=1).to(device) * std
    return h.contiguous(), c.contiguous()


@dataclass(frozen=True)
class EncoderWindows:
    """Where the encoder windows of a song lie at generation.

    Window k covers frames [starts[k], starts[k] + window) and gives the frames [cores[k][0], cores[k][1]) of the
    song's encoding; the cores tile [0, L). Each core frame has ``context`` frames of music on both sides inside
    its window, except where the song itself ends.
    """

    frames: int
    window: int
    context: int
    starts: tuple[int, ...]
    cores: tuple[tuple[int, int], ...]


def plan_encoder_windows(frames: int, window: int, receptive: int) -> EncoderWindows:
    """Windows of ``window`` frames whose cores (``window - 2 context`` frames, context = min(receptive,
    window // 4)) tile a song of ``frames`` frames (one window when the song fits in one)."""
    if frames < 1:
        raise ChoreoError(f"cannot make a dance of {frames} frames")
    if frames <= window:
        return EncoderWindows(frames, frames, 0, (0,), ((0, frames),))
    ctx = min(int(receptive), window // 4)
    hop = window - 2 * ctx
    starts, cores = [], []
    for a in range(0, frames, hop):
        b = min(a + hop, frames)
        starts.append(min(max(a - ctx, 0), frames - window))
        cores.append((a, b))
    return EncoderWindows(frames, window, ctx, tuple(starts), tuple(cores))


class DanceRevolutionMethod(Method):
    """Dance Revolution as a trainable and samplable method (see the module docstring).

    Args:
        config: :class:`DanceRevolutionConfig`.
        spec: the data spec: ``representation`` (``dim`` C), ``normalizer`` (min-max, to [-1, 1]),
            ``feature_dim`` (F), ``window_frames`` (the training window, the default encoder window at
            generation), ``fps``.
    """

    name = "dancerevolution"
    produces = "dance"
    sampling_options = ("init_state_std", "encoder_window")

    def __init__(self, config: DanceRevolutionConfig, spec):
        super().__init__(config, spec)
        if spec.representation is None or spec.normalizer is None:
            raise ChoreoError("Dance Revolution needs a motion representation and a fitted normaliser")
        if int(spec.feature_dim) < 1:
            raise ChoreoError("Dance Revolution needs music features (feature_dim >= 1)")
        self.representation = spec.representation
        self.normalizer = spec.normalizer
        self.feature_dim = int(spec.feature_dim)
        C = int(self.representation.dim)
        self.encoder = MusicEncoder(
            self.feature_dim,
            config.d_model,
            config.layers,
            config.heads,
            config.d_head,
            config.ff_size,
            config.band,
            config.dropout,
            config.music_compress,
            config.attention_chunk,
        )
        self.decoder = PoseDecoder(
            C, config.d_model, config.pose_embed, config.hidden, config.lstm_layers, config.dropout
        )

    # ---- training ------------------------------------------------------------------------------------
    def self_fed(self, epoch: float) -> int:
        """p at ``epoch`` under the config's schedule."""
        c = self.config
        return self_fed_frames(c.schedule, epoch, c.curriculum_lambda, c.const_frames)

    def training_loss(
        self, batch: dict, phase: str = "main", step: int = 0, epoch: float = 0.0
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | float]]:
        """L1 per sample on ``{"motion": (B, T, C) normalised, "music": (B, T, F), "seed": (B,)}``.

        The decoder runs under the curriculum pattern of ``epoch`` (:func:`teacher_mask`); sample i's initial
        LSTM states come from ``seed[i]``.

        Returns:
            (B,) mean |prediction - target| over frames and channels (normalised units), and the logged terms
            ``l1`` (B,) and ``self_fed`` (p, scalar).
        """
        dev = self.device
        x = batch["motion"].to(dev, torch.float32)
        music = batch["music"].to(dev, torch.float32)
        B, T, _ = x.shape
        p = self.self_fed(epoch)
        teacher = teacher_mask(T, min(p, T), self.config.condition_frames)
        cfg = self.config
        state = initial_state(batch.get("seed"), B, cfg.lstm_layers, cfg.hidden, cfg.init_state_std, dev)
        pred = self.decoder.unroll(self.encoder(music), state, x, teacher)
        l1 = (pred - x).abs().mean(dim=(1, 2))
        return l1, {"l1": l1.detach(), "self_fed": float(p)}

    # ---- sampling ------------------------------------------------------------------------------------
    def encode_song(self, music: torch.Tensor, window: int | None = None, chunk_windows: int = 16) -> torch.Tensor:
        """(L, F) features -> (L, d_model) encodings from windows (:func:`plan_encoder_windows`).

        At most ``chunk_windows`` windows of ``window`` frames (default: the training window) go through the
        encoder at once.
        """
        L = music.shape[0]
        W = int(window or self.config.encoder_window or self.spec.window_frames)
        plan = plan_encoder_windows(L, max(2, W), self.encoder.receptive_field)
        out = music.new_empty(L, self.config.d_model)
        n = max(1, int(chunk_windows))
        positions = torch.arange(plan.window, device=music.device)
        for a in range(0, len(plan.starts), n):
            idx = range(a, min(a + n, len(plan.starts)))
            x = torch.stack([music[plan.starts[i] : plan.starts[i] + plan.window] for i in idx])
            enc = self.encoder(x, positions)
            for j, i in enumerate(idx):
                s, (c0, c1) = plan.starts[i], plan.cores[i]
                out[c0:c1] = enc[j, c0 - s : c1 - s]
        return out

    def _check_music(self, music) -> torch.Tensor:
        m = torch.as_tensor(np.asarray(music, np.float32) if not torch.is_tensor(music) else music)
        if m.ndim != 2 or m.shape[-1] != self.feature_dim:
            raise ChoreoError(
                f"music features have shape {tuple(m.shape)}, expected (frames, F) with F = {self.feature_dim}"
            )
        if len(m) < 1:
            raise ChoreoError("the music gives no frames to dance to")
        if not torch.isfinite(m).all():
            raise ChoreoError("music features contain NaN or infinite values")
        return m.to(self.device, torch.float32)

    @torch.inference_mode()
    def generate(
        self,
        music,
        seed: int = 0,
        constraint: Constraint | None = None,
        progress: bool = False,
        init_state_std: float | None = None,
        encoder_window: int | None = None,
        chunk_windows: int = 16,
    ) -> np.ndarray:
        """A dance for a whole song, one frame at a time (see the module docstring).

        Args:
            music: (L, F) features at the model fps.
            seed: seeds the random initial LSTM states (a CPU generator): same seed, same dance.
            constraint: (L, C) reference (real units) and mask; the decoder's output is replaced by the reference
                wherever the mask holds before it is fed back, so a seed motion in the first frames is continued.
            progress: show a tqdm bar over the frames.
            init_state_std: std of the initial states (default: the config's, as in training).
            encoder_window: frames per encoder window (default: the training window).
            chunk_windows: most encoder windows per batched forward.
        Returns:
            (L, C) float32 motion tensor in real units, at the model fps.
        """
        o = self.sampling_settings(init_state_std=init_state_std, encoder_window=encoder_window)
        std = float(o["init_state_std"])
        if std < 0:
            raise ChoreoError(f"init_state_std must be >= 0, got {std}")
        m = self._check_music(music)
        L, C, dev = m.shape[0], self.representation.dim, self.device
        known = mask = None
        if constraint is not None:
            if constraint.known.shape != (L, C) or constraint.mask.shape != (L, C):
                raise ChoreoError(f"edit constraint has shape {constraint.known.shape}, expected ({L}, {C})")
            mask = torch.as_tensor(np.asarray(constraint.mask, bool), device=dev)
            known = torch.as_tensor(
                np.asarray(self.normalizer.normalize(np.asarray(constraint.known, np.float64)), np.float32), device=dev
            )
        enc = self.encode_song(m, o["encoder_window"], chunk_windows)
        cfg = self.config
        gen = torch.Generator().manual_seed(int(seed))
        state = initial_state(None, 1, cfg.lstm_layers, cfg.hidden, std, dev, generator=gen)
        prev = self.decoder.start_pose(1, dev)
        out = torch.empty(L, C, device=dev)
        rows = mask.any(dim=1).tolist() if mask is not None else [False] * L
        from tqdm.auto import tqdm

        for t in tqdm(range(L), desc="dancing", unit="frame", disable=not progress, leave=False):
            y, state = self.decoder.run(prev[:, None], enc[None, t : t + 1], state)
            y = y[:, 0]
            if rows[t]:
                y = torch.where(mask[t], known[t], y[0])[None]
            out[t] = y[0]
            prev = y
        motion = np.asarray(self.normalizer.denormalize(out.cpu().numpy().astype(np.float64)), np.float32)
        if constraint is not None:
            motion = np.where(constraint.mask, constraint.known, motion).astype(np.float32)
        return motion


def build_dancerevolution(model_config: dict | None, spec) -> DanceRevolutionMethod:
    """Registry entry: a :class:`DanceRevolutionMethod` from its config dict and the data spec."""
    return DanceRevolutionMethod(DanceRevolutionConfig.from_dict(model_config), spec)
