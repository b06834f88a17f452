"""DiffDance's music-motion embedding: two sequence encoders, a contrastive adapter, and retrieval scores.

DiffDance (Qi et al., ACM MM 2023) conditions its diffusion models on a music embedding aligned to motion:
Wav2CLIP audio embeddings through a 2-layer MLP adapter trained with InfoNCE against a frozen MotionCLIP
motion encoder. Neither set of weights can be had here, so choreo trains its own in two stages:

1. a music encoder over a choreo feature set and a motion encoder over the motion representation, trained
   together with a symmetric InfoNCE loss on paired clips (6 s in the paper) and a learnable temperature;
2. both encoders frozen, a 2-layer MLP adapter (hidden 512) on the music side, trained with InfoNCE (its own
   learnable temperature) against the frozen motion embedding: the paper's step.

A user with features from a pretrained audio encoder (Wav2CLIP ...) feeds them through the ``external``
feature set: the music encoder then sits on top of them.

Both encoders are stacks of residual dilated 1D convolutions over frames (:class:`SequenceEncoder`): they give
one embedding per frame, whatever the length, so a 10-minute song is encoded in one pass in memory linear in
its length, and a clip's embedding is the L2-normalised mean of its frames. The adapter works per frame too:
the diffusion models are conditioned on the adapted per-frame sequence.

Shapes: music features (B, T, F) and normalised motion (B, T, C), frame-aligned at the data's fps; embeddings
(B, T, E) per frame, (B, E) per clip (unit length).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

#: Dance with Melody sequence names carry the style as a letter: DANCE_C_4 is a cha-cha.
DWM_GENRES = {"C": "cha-cha", "R": "rumba", "T": "tango", "W": "waltz"}
_DWM_NAME = re.compile(r"^DANCE_([A-Z])_")


def genre_of(name: str) -> str:
    """The dance style of a sequence name: ``DANCE_W_3`` -> ``waltz``; other names are their own genre."""
    m = _DWM_NAME.match(str(name))
    if m is None:
        return str(name)
    return DWM_GENRES.get(m.group(1), m.group(1))


class _ConvBlock(nn.Module):
    """Pre-norm residual block: LayerNorm, dilated 1D convolution (replicate padding, same length), GELU, linear."""

    def __init__(self, width: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel, dilation=dilation, padding="same", padding_mode="replicate")
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
class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` whose backward sends every process the summed gradient of its own rows.

    (``torch.distributed.nn.all_gather`` needs reduce-scatter, which gloo lacks: an all-reduce of the full
    gradient followed by taking one's own slice is the same arithmetic.)
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = rank, x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's rows of ``x`` (n, ...) in rank order, differentiably, and where this process's start.

    With one process (or no process group) ``x`` itself and 0. All processes must hold the same number of rows.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    return _GatherWithGrad.apply(x), dist.get_rank() * x.shape[0]


def clamp_logit_scale(log_scale: torch.Tensor, max_scale: float = 100.0) -> torch.Tensor:
    """``exp(log_scale)`` capped at ``max_scale`` (CLIP's cap: a temperature no lower than 0.01)."""
    return log_scale.exp().clamp(max=max_scale)


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE per sample: row i of ``a`` goes with row i of ``b``, every other row is a negative.

    With ``s_ij = scale * a_i . b_j`` (unit vectors, so cosine similarities) over the N pairs of the global
    batch (every process's rows, see :func:`gather_rows`)::

        loss_i = ( -log softmax_j(s_ij)[i] - log softmax_j(s_ji)[i] ) / 2

    the mean of the a -> b and b -> a cross-entropies of pair i. The mean of ``loss_i`` over the global batch
    is CLIP's loss; gradients through the gathered rows make data-parallel training match one process.

    Args:
        a, b: (n, E) this process's unit-length embeddings.
        scale: the inverse temperature (a scalar tensor, learnable).
    Returns:
        (n,) per-sample losses.
    """
    a_all, offset = gather_rows(a)
    b_all, _ = gather_rows(b)
    target = torch.arange(a.shape[0], device=a.device) + offset
    ab = scale * a @ b_all.T  # (n, N): pair i's music against every dance
    ba = scale * b @ a_all.T  # (n, N): pair i's dance against every music
    return 0.5 * (F.cross_entropy(ab, target, reduction="none") + F.cross_entropy(ba, target, reduction="none"))


# ---- retrieval ----------------------------------------------------------------------------------------------
def retrieval_report(music: np.ndarray | torch.Tensor, dance: np.ndarray | torch.Tensor, genres: Sequence[str]) -> dict:
    """Music -> dance retrieval among N paired clips, against chance, and how much of it is only genre.

    Query i (music clip i) ranks every dance clip by cosine similarity; its own dance is the right answer.

    Returns:
        ``n``; ``top1``, ``top5``: share of queries whose own dance ranks first / in the first five, and
        ``chance_top1 = 1 / N``, ``chance_top5 = min(5, N) / N``; ``genre_top1``: share of queries whose
        first-ranked dance has the query's genre, against ``genre_chance = sum_g (n_g / N)^2`` (a random
        dance's genre matches); ``within_genre_top1``: top-1 when only dances of the query's genre compete
        (what is left once the genre is known), against ``within_genre_chance = mean_i 1 / n_{g(i)}``;
        ``genres``: clips per genre.
    """
    m = F.normalize(torch.as_tensor(np.asarray(music, np.float64)), dim=-1)
    d = F.normalize(torch.as_tensor(np.asarray(dance, np.float64)), dim=-1)
    n = m.shape[0]
    if d.shape[0] != n or len(genres) != n or n == 0:
        raise ValueError(
            f"retrieval needs as many music clips, dance clips and genres ({n}, {d.shape[0]}, {len(genres)})"
        )
    sim = (m @ d.T).numpy()
    own = np.diag(sim)
    # rank of the own dance: how many dances score strictly higher (ties count in the query's favour)
    rank = (sim > own[:, None]).sum(axis=1)
    g = np.asarray([str(x) for x in genres])
    same = g[:, None] == g[None, :]
    rank_within = ((sim > own[:, None]) & same).sum(axis=1)
    best = sim.argmax(axis=1)
    names, counts = np.unique(g, return_counts=True)
    per_genre = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
    return {
        "n": int(n),
        "top1": float(np.mean(rank == 0)),
        "top5": float(np.mean(rank < 5)),
        "chance_top1": 1.0 / n,
        "chance_top5": min(5, n) / n,
        "genre_top1": float(np.mean(g[best] == g)),
        "genre_chance": float(np.sum((counts / n) ** 2)),
        "within_genre_top1": float(np.mean(rank_within == 0)),
        "within_genre_chance": float(np.mean(1.0 / same.sum(axis=1))),
        "genres": per_genre,
    }


def format_report(report: dict, title: str = "music -> dance retrieval") -> str:
    """A few lines of text for :func:`retrieval_report`'s dict."""
    r = report
    genres = ", ".join(f"{k} {v}" for k, v in r["genres"].items())
    return "\n".join(
        [
            f"{title} among {r['n']} test clips ({genres})",
            f"  top-1 {r['top1']:.3f} (chance {r['chance_top1']:.3f}), top-5 {r['top5']:.3f} "
            f"(chance {r['chance_top5']:.3f})",
            f"  first-ranked dance of the right genre {r['genre_top1']:.3f} (chance {r['genre_chance']:.3f})",
            f"  top-1 among the same genre's dances only {r['within_genre_top1']:.3f} "
            f"(chance {r['within_genre_chance']:.3f})",
        ]
    )
