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
        standardize: subtract a per-channel mean and divide by a per-channel standard deviation before the
            input projection (buffers ``in_mean``, ``in_std``, set once by :meth:`fit_input_stats`). Raw music
            features span very different ranges (baseline35: MFCC 0 has a standard deviation of ~100, the
            beat and onset one-hots ~0.2), so without it the one-hots barely reach the network.
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
        standardize: bool = False,
    ):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.standardize = bool(standardize)
        if self.standardize:  # only then: checkpoints of encoders without it keep their exact state dict
            self.register_buffer("in_mean", torch.zeros(in_dim))
            self.register_buffer("in_std", torch.ones(in_dim))
            self.register_buffer("in_fitted", torch.tensor(False))
        self.in_proj = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(_ConvBlock(width, kernel, 2 ** (i % 4), dropout) for i in range(layers))
        self.out_norm = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, embed_dim)
        if temperature is not None:
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, T, E) per-frame embeddings."""
        if self.standardize:
            x = (x - self.in_mean) / self.in_std
        h = self.in_proj(x)
        for block in self.blocks:
            h = block(h)
        return self.out_proj(self.out_norm(h))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, E) unit-length clip embeddings (the mean of the per-frame ones, normalised)."""
        return pool(self(x))

    @torch.no_grad()
    def fit_input_stats(self, x: torch.Tensor) -> None:
        """Set the standardisation from frames ``x`` (B, T, in_dim), once (later calls do nothing).

        With several processes the moments are summed over all of them, so every process gets the same
        statistics. A channel that is constant in ``x`` keeps a standard deviation of at least 1e-3 of the
        largest one (it then passes nearly unscaled instead of exploding).
        """
        if not self.standardize or bool(self.in_fitted):
            return
        flat = x.detach().reshape(-1, x.shape[-1]).double()
        moments = torch.stack(
            [flat.new_tensor(float(flat.shape[0])).expand(flat.shape[1]), flat.sum(0), (flat * flat).sum(0)]
        )
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(moments, op=dist.ReduceOp.SUM)
        n, s1, s2 = moments
        mean = s1 / n
        std = (s2 / n - mean * mean).clamp(min=0.0).sqrt()
        std = std.clamp(min=max(float(std.max()) * 1e-3, 1e-6))
        self.in_mean.copy_(mean.to(self.in_mean.dtype))
        self.in_std.copy_(std.to(self.in_std.dtype))
        self.in_fitted.fill_(True)


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


def info_nce(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE per sample: row i of ``a`` goes with row i of ``b``, every other row is a negative.

    With ``s_ij = scale * a_i . b_j`` (unit vectors, so cosine similarities) over the N pairs of the global
    batch (every process's rows, see :func:`gather_rows`)::

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
    a_all, offset = gather_rows(a)
    b_all, _ = gather_rows(b)
    ab = scale * a @ b_all.T  # (n, N): pair i's music against every dance
    ba = scale * b @ a_all.T  # (n, N): pair i's dance against every music
    return _symmetric_nce(ab, ba, offset, exclude)


def frame_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n, N) time-aligned similarity of per-frame embeddings: ``mean_t cos(a_it, b_jt)``.

    Unlike the cosine of two clips' mean embeddings (which is the mean over *all* frame pairs (t, s), so it
    cannot tell a dance on the beat from the same dance half a beat late), this compares frame t with frame
    t: it rewards music and dance events that happen at the same moment.

    Args:
        a: (n, T, E), b: (N, T, E) per-frame embeddings over the same T frames.
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return torch.einsum("ite,jte->ij", a, b) / a.shape[1]


def frame_info_nce(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`info_nce` on the time-aligned :func:`frame_similarity` of per-frame embeddings (n, T, E)."""
    a_all, offset = gather_rows(a)
    b_all, _ = gather_rows(b)
    return _symmetric_nce(scale * frame_similarity(a, b_all), scale * frame_similarity(b, a_all), offset, exclude)


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
    with torch.no_grad():
        everything, offset = gather_rows(clips.detach())
        counts = shared_frames(everything)[offset : offset + clips.shape[0]]
    return counts >= max(1, math.ceil(min_shared * clips.shape[1]))


def binary_channels(x: torch.Tensor) -> torch.Tensor:
    """(F,) bool: channels of ``x`` (..., F) that hold only 0 and 1 (one-hots such as beats and onset peaks)."""
    flat = x.reshape(-1, x.shape[-1])
    return ((flat == 0) | (flat == 1)).all(dim=0)


def augment_features(
    x: torch.Tensor,
    std: torch.Tensor,
    generators: Sequence[torch.Generator],
    noise: float = 0.0,
    shift: float = 0.0,
    gain: float = 0.0,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random per-clip changes of features that keep their pairing with the dance (training only).

    In units of the per-channel standard deviation ``std``, clip i becomes

        x_i' = mean_i + exp(gain g_i) (x_i - mean_i) + std (shift s_i + noise n_it)

    with g_i ~ N(0, 1) per clip, s_i ~ N(0, 1) per clip and channel, n_it ~ N(0, 1) per frame and channel,
    and mean_i the clip's own per-channel mean: a random gain around the clip's level, a random offset of each
    channel (an absolute level, e.g. a song's timbre in its mean MFCCs, then says less about which song it
    is) and frame noise. Channels in ``keep`` (default: the 0/1 ones, beats and onset peaks) stay exact.

    Args:
        x: (B, T, F) features; std: (F,) their scale; generators: one per clip (the sample's seed).
    Returns:
        (B, T, F) augmented features (``x`` itself when every amount is 0).
    """
    if noise <= 0 and shift <= 0 and gain <= 0:
        return x
    B, T, F_ = x.shape
    keep = binary_channels(x) if keep is None else keep
    g, s, n = [], [], []
    for gen in generators:
        g.append(torch.randn(1, generator=gen))
        s.append(torch.randn(F_, generator=gen))
        n.append(torch.randn(T, F_, generator=gen))
    g_t = torch.stack(g).to(x)[:, :, None]  # (B, 1, 1)
    s_t = torch.stack(s).to(x)[:, None, :]  # (B, 1, F)
    n_t = torch.stack(n).to(x)  # (B, T, F)
    level = x.mean(dim=1, keepdim=True)
    out = level + torch.exp(gain * g_t) * (x - level) + std.to(x) * (shift * s_t + noise * n_t)
    return torch.where(keep.to(x.device)[None, None, :], x, out)


# ---- retrieval ----------------------------------------------------------------------------------------------
def retrieval_report(
    music: np.ndarray | torch.Tensor,
    dance: np.ndarray | torch.Tensor,
    genres: Sequence[str],
    songs: Sequence[str] | None = None,
) -> dict:
    """Music -> dance retrieval among N paired clips, against chance, and how much of it is only genre.

    Query i (music clip i) ranks every dance clip by cosine similarity; its own dance is the right answer.

    Returns:
        ``n``; ``top1``, ``top5``: share of queries whose own dance ranks first / in the first five, and
        ``chance_top1 = 1 / N``, ``chance_top5 = min(5, N) / N``; ``genre_top1``: share of queries whose
        first-ranked dance has the query's genre, against ``genre_chance = sum_g (n_g / N)^2`` (a random
        dance's genre matches); ``within_genre_top1``: top-1 when only dances of the query's genre compete
        (what is left once the genre is known), against ``within_genre_chance = mean_i 1 / n_{g(i)}``;
        ``rank_pct``: the mean over queries of the own dance's rank / (N - 1) (0 best, chance 0.5: a steadier
        number than top-1 on a few dozen clips); ``genres``: clips per genre. With ``songs`` (the recording
        of every clip) also ``song_top1`` / ``song_chance`` (first-ranked dance from the query's own song)
        and ``within_song_top1`` / ``within_song_chance`` (top-1 among the own song's clips only: does the
        embedding tell apart the moments of one song).
    """
    m = F.normalize(torch.as_tensor(np.asarray(music, np.float64)), dim=-1)
    d = F.normalize(torch.as_tensor(np.asarray(dance, np.float64)), dim=-1)
    n = m.shape[0]
    if d.shape[0] != n or len(genres) != n or n == 0:
        raise ValueError(
            f"retrieval needs as many music clips, dance clips and genres ({n}, {d.shape[0]}, {len(genres)})"
        )
    return similarity_report((m @ d.T).numpy(), genres, songs)


def similarity_report(sim: np.ndarray, genres: Sequence[str], songs: Sequence[str] | None = None) -> dict:
    """:func:`retrieval_report` from an (N, N) similarity of music clip i to dance clip j (e.g. the
    time-aligned :func:`frame_similarity`); the same keys."""
    sim = np.asarray(sim, np.float64)
    n = sim.shape[0]
    if sim.shape != (n, n) or len(genres) != n or n == 0:
        raise ValueError(f"retrieval needs a square similarity and one genre per clip ({sim.shape}, {len(genres)})")
    own = np.diag(sim)
    # rank of the own dance: how many dances score strictly higher (ties count in the query's favour)
    rank = (sim > own[:, None]).sum(axis=1)
    g = np.asarray([str(x) for x in genres])
    same = g[:, None] == g[None, :]
    rank_within = ((sim > own[:, None]) & same).sum(axis=1)
    best = sim.argmax(axis=1)
    names, counts = np.unique(g, return_counts=True)
    per_genre = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
    out = {
        "n": int(n),
        "top1": float(np.mean(rank == 0)),
        "top5": float(np.mean(rank < 5)),
        "chance_top1": 1.0 / n,
        "chance_top5": min(5, n) / n,
        "genre_top1": float(np.mean(g[best] == g)),
        "genre_chance": float(np.sum((counts / n) ** 2)),
        "within_genre_top1": float(np.mean(rank_within == 0)),
        "within_genre_chance": float(np.mean(1.0 / same.sum(axis=1))),
        "rank_pct": float(np.mean(rank / max(1, n - 1))),
        "genres": per_genre,
    }
    if songs is not None:
        if len(songs) != n:
            raise ValueError(f"retrieval needs one song per clip ({len(songs)} for {n} clips)")
        s = np.asarray([str(x) for x in songs])
        same_song = s[:, None] == s[None, :]
        _, song_counts = np.unique(s, return_counts=True)
        out["song_top1"] = float(np.mean(s[best] == s))
        out["song_chance"] = float(np.sum((song_counts / n) ** 2))
        out["within_song_top1"] = float(np.mean(((sim > own[:, None]) & same_song).sum(axis=1) == 0))
        out["within_song_chance"] = float(np.mean(1.0 / same_song.sum(axis=1)))
    return out


def format_report(report: dict, title: str = "music -> dance retrieval") -> str:
    """A few lines of text for :func:`retrieval_report`'s dict."""
    r = report
    genres = ", ".join(f"{k} {v}" for k, v in r["genres"].items())
    return "\n".join(
        [
            f"{title} among {r['n']} clips ({genres})",
            f"  top-1 {r['top1']:.3f} (chance {r['chance_top1']:.3f}), top-5 {r['top5']:.3f} "
            f"(chance {r['chance_top5']:.3f})",
            f"  first-ranked dance of the right genre {r['genre_top1']:.3f} (chance {r['genre_chance']:.3f})",
            f"  top-1 among the same genre's dances only {r['within_genre_top1']:.3f} "
            f"(chance {r['within_genre_chance']:.3f})",
        ]
        + (
            [
                f"  first-ranked dance from the right song {r['song_top1']:.3f} (chance {r['song_chance']:.3f}), "
                f"top-1 among the same song's clips only {r['within_song_top1']:.3f} "
                f"(chance {r['within_song_chance']:.3f})"
            ]
            if "song_top1" in r
            else []
        )
        + ([f"  mean rank of the own dance {r['rank_pct']:.3f} of the list (chance 0.5)"] if "rank_pct" in r else [])
    )
