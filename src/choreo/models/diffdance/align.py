"""DiffDance's music-motion embedding: two sequence encoders, the contrastive adapter, and their InfoNCE loss.

DiffDance (Qi et al., ACM MM 2023) conditions its diffusion models on a music embedding aligned to motion:
Wav2CLIP audio embeddings through a 2-layer MLP adapter trained with InfoNCE against a frozen MotionCLIP
motion encoder. Neither set of weights can be had here, so choreo trains its own in two stages
(:mod:`~choreo.models.diffdance.phases`):

1. a music encoder over a choreo feature set and a motion encoder over the motion representation, trained
   together with a symmetric InfoNCE loss on paired clips (6 s in the paper) and a learnable temperature;
2. both encoders frozen, a 2-layer MLP adapter (hidden 512) on the music side, trained with InfoNCE (its own
   learnable temperature) against the frozen motion embedding: the paper's step.

A user with features from a pretrained audio encoder (Wav2CLIP ...) feeds them through the ``external``
feature set: the music encoder then sits on top of them.

Both encoders are stacks of residual dilated 1D convolutions over frames (:class:`SequenceEncoder`): they give
one embedding per frame, whatever the length, so a 10-minute song is encoded in one pass in memory linear in
its length, and a clip's embedding is the L2-normalised mean of its frames. The adapter works per frame too:
the diffusion models are conditioned on the adapted per-frame sequence. How well the embedding retrieves a
song's own dance is measured by :mod:`choreo.metrics.retrieval`.

Shapes: music features (B, T, F) and normalised motion (B, T, C), frame-aligned at the data's fps; embeddings
(B, T, E) per frame, (B, E) per clip (unit length).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class _ConvBlock(nn.Module):
    """Pre-norm residual block: LayerNorm, dilated 1D convolution (replicate padding, same length), GELU, linear."""

    def __init__(self, width: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(
            width,
            width,
            kernel,
            dilation=dilation,
            padding="same",
            padding_mode="replicate",
        )
        self.out = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.norm(h).transpose(1, 2)).transpose(1, 2)
        return h + self.drop(self.out(F.gelu(y)))


class SequenceEncoder(nn.Module):
    """Per-frame embeddings of a frame sequence (music features or motion) by dilated 1D convolutions.

    ``layers`` residual blocks with dilations 1, 2, 4, 8, 1, 2, ... (kernel k): the receptive field is
    ``1 + (k - 1) * sum(dilations)`` frames (61 frames, 2.4 s at 25 fps, for 4 layers of kernel 5).

    Args:
        in_dim: input channels (F music features or C motion channels).
        width: hidden channels.
        embed_dim: E, output channels.
        layers, kernel: depth and kernel size.
        dropout: dropout inside the blocks.
        temperature: when given, the module also holds the learnable InfoNCE temperature of the stage that
            trains it (``logit_scale = log(1 / temperature)`` as in CLIP).
    """

    def __init__(
        self,
        in_dim: int,
        width: int,
        embed_dim: int,
        layers: int = 4,
        kernel: int = 5,
        dropout: float = 0.0,
        temperature: float | None = None,
    ):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.in_proj = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(_ConvBlock(width, kernel, 2 ** (i % 4), dropout) for i in range(layers))
        self.out_norm = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, embed_dim)
        if temperature is not None:
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, T, E) per-frame embeddings."""
        h = self.in_proj(x)
        for block in self.blocks:
            h = block(h)
        return self.out_proj(self.out_norm(h))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, E) unit-length clip embeddings (the mean of the per-frame ones, normalised)."""
        return pool(self(x))


def pool(frames: torch.Tensor) -> torch.Tensor:
    """(B, T, E) per-frame embeddings -> (B, E) unit-length clip embeddings."""
    return F.normalize(frames.mean(dim=1), dim=-1)


class Adapter(nn.Module):
    """DiffDance's music adapter: a 2-layer MLP (hidden 512 in the paper) applied to every frame's embedding.

    It is residual, ``a(e) = e + W2 GELU(W1 e + b1) + b2``, with ``W2, b2`` zero at initialisation: here the
    encoders were trained into one space first, so the adapter starts as the identity (the stage-1 alignment)
    and can only be moved away from it by its own InfoNCE gradient. It holds its own learnable temperature.

    Args:
        dim: E, embedding channels in and out.
        hidden: hidden units.
        temperature: initial InfoNCE temperature of the adapter stage.
    """

    def __init__(self, dim: int, hidden: int = 512, temperature: float = 0.07):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """(..., E) -> (..., E)."""
        return e + self.fc2(F.gelu(self.fc1(e)))


# ---- InfoNCE ------------------------------------------------------------------------------------------------
def clamp_logit_scale(log_scale: torch.Tensor, max_scale: float = 100.0) -> torch.Tensor:
    """``exp(log_scale)`` capped at ``max_scale`` (CLIP's cap: a temperature no lower than 0.01)."""
    return log_scale.exp().clamp(max=max_scale)


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE per sample: row i of ``a`` goes with row i of ``b``, every other row is a negative.

    With ``s_ij = scale * a_i . b_j`` (unit vectors, so cosine similarities) over the N pairs of the global
    batch (every process's rows, :func:`~choreo.train.distributed.gather_rows`)::

        loss_i = ( -log softmax_j(s_ij)[i] - log softmax_j(s_ji)[i] ) / 2

    the mean of the a -> b and b -> a cross-entropies of pair i. The mean of ``loss_i`` over the global batch
    is CLIP's loss; gradients through the gathered rows make data-parallel training match one process.

    Args:
        a, b: (n, E) this process's unit-length embeddings.
        scale: the inverse temperature (a scalar tensor, learnable).
        exclude: (n, N) bool, True where global row j is no negative for local pair i (e.g. the same
            recording at overlapping times, :func:`overlap_mask`): it leaves both softmaxes of pair i. The
            pair's own column is never excluded.
    Returns:
        (n,) per-sample losses.
    """
    # a training-time path: inference never imports choreo.train
    from choreo.train.distributed import gather_rows

    a_all, offset = gather_rows(a)
    b_all, _ = gather_rows(b)
    ab = scale * a @ b_all.T  # (n, N): pair i's music against every dance
    ba = scale * b @ a_all.T  # (n, N): pair i's dance against every music
    return _symmetric_nce(ab, ba, offset, exclude)


def _symmetric_nce(ab: torch.Tensor, ba: torch.Tensor, offset: int, exclude: torch.Tensor | None) -> torch.Tensor:
    """(n,) mean of both directions' cross-entropies; logits (n, N), local pair i's target column offset + i."""
    n = ab.shape[0]
    target = torch.arange(n, device=ab.device) + offset
    if exclude is not None:
        drop = exclude.to(ab.device, torch.bool).clone()
        drop[torch.arange(n, device=ab.device), target] = False
        ab = ab.masked_fill(drop, float("-inf"))
        ba = ba.masked_fill(drop, float("-inf"))
    return 0.5 * (F.cross_entropy(ab, target, reduction="none") + F.cross_entropy(ba, target, reduction="none"))


def shared_frames(clips: torch.Tensor) -> torch.Tensor:
    """(N, N) number of frames clip i shares exactly (bit for bit) with clip j, for (N, T, F) feature clips.

    Two clips cut from the same recording at overlapping times hold the same feature rows; clips of
    different recordings (or of one recording at other times) share none (float features of real audio do
    not repeat exactly: none of Dance with Melody's 54 040 training frames does). A frame repeated inside a
    clip counts once.
    """
    n, t, f = clips.shape
    _, ids = torch.unique(clips.detach().reshape(n * t, f), dim=0, return_inverse=True)
    member = torch.zeros(n, int(ids.max()) + 1, dtype=torch.float32, device=clips.device)
    member[torch.arange(n, device=clips.device).repeat_interleave(t), ids] = 1.0
    return (member @ member.T).round().long()


def overlap_mask(clips: torch.Tensor, min_shared: float = 0.1) -> torch.Tensor:
    """False negatives of a contrastive batch: (n, N) bool, this process's clips against the global batch.

    Pair (i, j) is masked when clips i and j share at least ``min_shared`` of their frames, i.e. they are the
    same recording at overlapping times: their dances are (partly) the same dance, so pushing them apart
    would teach the encoders to tell apart two halves of one moment. (The threshold, rather than any shared
    frame, keeps a stray identical frame, e.g. digital silence, from linking two songs.) The diagonal is True.

    Args:
        clips: (n, T, F) this process's music clips (the same T on every process).
    """
    # a training-time path: inference never imports choreo.train
    from choreo.train.distributed import gather_rows

    with torch.no_grad():
        everything, offset = gather_rows(clips.detach())
        counts = shared_frames(everything)[offset : offset + clips.shape[0]]
    return counts >= max(1, math.ceil(min_shared * clips.shape[1]))
