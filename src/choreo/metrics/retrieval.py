"""Music -> dance retrieval among paired clips: how well an embedding tells a song's own dance from the others.

Used to evaluate DiffDance's contrastive music-motion embedding (``scripts`` and docs/diffdance.md,
"Generalisation"): every music clip ranks every dance clip by similarity, and the scores are set against chance
and against what the dance style alone explains. Inputs are embeddings (N, E) or a similarity (N, N), so any
embedding can be scored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from choreo.data.sources import DWM_STYLES

_DWM_NAME = re.compile(r"^DANCE_([A-Z])_")


def genre_of(name: str) -> str:
    """The dance style of a sequence name: ``DANCE_W_3`` -> ``waltz`` (Dance with Melody's letters); other names
    are their own genre."""
    m = _DWM_NAME.match(str(name))
    return str(name) if m is None else DWM_STYLES.get(m.group(1), m.group(1))


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
