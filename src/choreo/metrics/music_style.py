"""Music style accuracy and a Fréchet distance on a hand-made music embedding, both computed offline.

**Embedding** (:func:`music_embedding`, 130 numbers per clip, mono at 22050 Hz): the mean and standard
deviation over time of 40 log-mel bands (dB; n_fft 2048, hop 512), the time-averaged tempogram of the
onset envelope at 40 log-spaced lags from 0.19 s to 4.2 s (tempo and metre: a waltz's 3-beat bar, a
tango's 2), log mean and log std of the onset envelope, the mean spectral contrast (7 bands) and the mean
RMS level (dB). No network and no downloaded weights.

**Style classifier** (:class:`StyleClassifier`): multinomial logistic regression on standardised
embeddings of 10 s clips, trained by ``scripts/train_music_style_classifier.py`` on the songs of Dance with
Melody's training split (cha-cha, rumba, tango, waltz: the sequence name's letter); shipped as
``choreo/assets/music_style_dwm.npz``. A piece is classified by averaging the log-probabilities of its 10 s
clips (every 5 s). Style accuracy of generated music is measured with the style label withheld from the
generator; otherwise the metric is circular.

**Fréchet distance** (:func:`music_fd`): between Gaussians fitted to two sets of clip embeddings,
standardised with the classifier's statistics. It is *not* VGGish FAD (whose weights are downloaded at run
time and are not available here); its numbers are only comparable with themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from choreo.errors import ChoreoError

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 40
N_LAGS = 40
#: tempogram lags (frames of 512 samples at 22050 Hz): 8 -> 0.19 s, 180 -> 4.2 s
LAG_RANGE = (8, 180)
CLIP_SECONDS = 10.0
CLIP_HOP_SECONDS = 5.0
EMBEDDING_DIM = 2 * N_MELS + N_LAGS + 2 + 7 + 1
ASSET = "music_style_dwm.npz"


def music_embedding(y: np.ndarray, sr: float) -> np.ndarray:
    """(130,) float32 embedding of one mono clip (see the module docstring); resampled to 22050 Hz first."""
    import librosa

    from choreo.audio.io import mono_samples

    y = mono_samples(y)
    if float(sr) != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR, res_type="soxr_hq").astype(np.float32)
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    spec = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    mel = librosa.feature.melspectrogram(S=spec**2, sr=SR, n_mels=N_MELS)
    mel_db = np.maximum(librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None), -100.0)
    env = librosa.onset.onset_strength(S=mel_db, sr=SR, hop_length=HOP)
    if len(env) > 1 and np.any(env):
        win = int(min(384, len(env)))
        tg = librosa.feature.tempogram(onset_envelope=env, sr=SR, hop_length=HOP, win_length=win).mean(axis=1)
    else:
        tg = np.zeros(384)
    lags = np.geomspace(LAG_RANGE[0], LAG_RANGE[1], N_LAGS)
    tg_feat = np.interp(lags, np.arange(len(tg)), tg, right=0.0)
    contrast = librosa.feature.spectral_contrast(S=spec, sr=SR).mean(axis=1)
    rms = librosa.feature.rms(S=spec, frame_length=N_FFT).mean()
    out = np.concatenate(
        [
            mel_db.mean(axis=1),
            mel_db.std(axis=1),
            tg_feat,
            [np.log1p(env.mean()), np.log1p(env.std())],
            contrast,
            [20 * np.log10(max(float(rms), 1e-5))],
        ]
    )
    return out.astype(np.float32)


def clip_embeddings(
    y: np.ndarray, sr: float, clip_seconds: float = CLIP_SECONDS, hop_seconds: float = CLIP_HOP_SECONDS
) -> np.ndarray:
    """(N, 130) embeddings of the ``clip_seconds`` clips every ``hop_seconds`` (a shorter piece is one clip)."""
    y = np.asarray(y, np.float32).reshape(-1)
    n, h = int(round(clip_seconds * sr)), max(1, int(round(hop_seconds * sr)))
    starts = list(range(0, max(1, len(y) - n + 1), h)) if len(y) >= n else [0]
    return np.stack([music_embedding(y[s : s + n], sr) for s in starts])


@dataclass
class StyleClassifier:
    """Softmax regression on standardised embeddings.

    Attributes:
        classes: style names (K,). mean, std: (E,) standardisation. weight: (E, K); bias: (K,).
        info: training notes (data, cross-validated accuracy) from the training script.
    """

    classes: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    info: dict

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> StyleClassifier:
        """The classifier in ``path`` (default: the one shipped in ``choreo/assets``)."""
        p = Path(path) if path is not None else Path(str(resources.files("choreo") / "assets" / ASSET))
        if not p.is_file():
            raise ChoreoError(
                "no music-style classifier (train one: python scripts/train_music_style_classifier.py)", p
            )
        try:
            with np.load(p, allow_pickle=False) as z:
                info = {k[5:]: z[k].item() for k in z.files if k.startswith("info_")}
                return cls(
                    tuple(str(c) for c in z["classes"]),
                    z["mean"].astype(np.float64),
                    z["std"].astype(np.float64),
                    z["weight"].astype(np.float64),
                    z["bias"].astype(np.float64),
                    info,
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ChoreoError(f"not a music-style classifier file ({exc})", p) from None

    def save(self, path: str | os.PathLike) -> None:
        """Write as npz (atomically)."""
        from choreo.fileio import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                classes=np.array(self.classes),
                mean=self.mean.astype(np.float32),
                std=self.std.astype(np.float32),
                weight=self.weight.astype(np.float32),
                bias=self.bias.astype(np.float32),
                **{f"info_{k}": np.array(v) for k, v in self.info.items()},
            )

    def standardise(self, emb: np.ndarray) -> np.ndarray:
        """(N, E) embeddings -> (N, E) standardised with the training statistics."""
        return (np.asarray(emb, np.float64) - self.mean) / self.std

    def log_proba(self, emb: np.ndarray) -> np.ndarray:
        """(N, E) clip embeddings -> (N, K) log-probabilities."""
        z = self.standardise(emb) @ self.weight + self.bias
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def classify(self, y: np.ndarray, sr: float) -> tuple[str, np.ndarray]:
        """The style of a piece: ``(name, (K,) probabilities)`` from the mean clip log-probability."""
        lp = self.log_proba(clip_embeddings(y, sr)).mean(axis=0)
        p = np.exp(lp - lp.max())
        p = p / p.sum()
        return self.classes[int(np.argmax(p))], p


def music_fd(emb_a: np.ndarray, emb_b: np.ndarray, classifier: StyleClassifier | None = None) -> float:
    """Fréchet distance between two sets of clip embeddings (N_a, E), (N_b, E), standardised with the
    classifier's statistics (default: the shipped classifier's). Not VGGish FAD."""
    from choreo.metrics.fid import fid

    clf = classifier or StyleClassifier.load()
    return fid(clf.standardise(emb_a), clf.standardise(emb_b))
