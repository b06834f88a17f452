"""The one training loop for every method: data, optimiser, EMA, mixed precision, checkpoints, resume, DDP.

A method is any ``nn.Module`` with ``training_loss(batch) -> (loss, logs)`` (see ``choreo.models``); batches
are ``{"motion": (B, T, C) normalised, "music": (B, T, F), "seed": (B,) int64}``. The run folder gets
``config.yaml``, ``log.csv`` (step, loss terms, lr, samples/s, elapsed) and checkpoints
(``last.ckpt`` + ``step_XXXXXX.ckpt``, newest ``keep_last`` kept). ``resume=True`` continues from
``last.ckpt`` exactly: the batch order and every random draw are functions of (seed, step), see
:mod:`choreo.train.sampling`.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from choreo.errors import ChoreoError
from choreo.fileio import atomic_open
from choreo.train import checkpoint as ckpt_io
from choreo.train.adan import Adan
from choreo.train.config import RunConfig
from choreo.train.distributed import (
    DistInfo,
    average_gradients,
    average_values,
    barrier,
    broadcast_module,
    init_distributed,
    shutdown,
)
from choreo.train.ema import EMA
from choreo.train.sampling import GlobalBatchSampler, mix_seed

MethodFactory = Callable[..., nn.Module]


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    """Adan or AdamW from a TrainConfig."""
    name = cfg.optimizer.lower()
    if name == "adan":
        betas = tuple(cfg.betas) if cfg.betas else (0.98, 0.92, 0.99)
        if len(betas) != 3:
            raise ChoreoError(f"Adan takes three betas, the config gives {list(betas)}")
        return Adan(params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if name == "adamw":
        betas = tuple(cfg.betas) if cfg.betas else (0.9, 0.999)
        if len(betas) != 2:
            raise ChoreoError(f"AdamW takes two betas, the config gives {list(betas)}")
        return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    raise ChoreoError(f"unknown optimizer {cfg.optimizer!r} (adan or adamw)")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None: full float32)."""
    if name not in ("auto", "fp32", "bf16", "fp16"):
        raise ChoreoError(f"unknown precision {name!r} (auto, fp32, bf16, fp16)")
    if name == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


class CsvLog:
    """``log.csv``: one row per logged step; on resume the rows after the checkpoint's step are dropped."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        self.columns: list[str] | None = None
        if resume_step is not None and path.exists():
            with open(path, newline="") as fh:
                rows = list(csv.reader(fh))
            if rows:
                self.columns = rows[0]
                kept = [r for r in rows[1:] if len(r) == len(self.columns) and _int(r[0]) <= resume_step]
                with atomic_open(path, "w", newline="") as fh:
                    csv.writer(fh).writerows([self.columns, *kept])
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, float]) -> None:
        new = self.columns is None
        if new:
            self.columns = list(row)
        with open(self.path, "a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(self.columns)
            w.writerow([_fmt(row.get(c, float("nan"))) for c in self.columns])


def _int(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        return sys.maxsize


def _fmt(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def read_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a run's log.csv as dicts of floats."""
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


class Trainer:
    """Trains one method on one dataset into one run folder.

    Args:
        config: the run configuration.
        run_dir: output folder.
        dataset: a built training dataset (default: ``choreo.data.build_dataset(config.data, "train")``).
            It provides ``get(items) -> {"motion", "music"}`` tensors, ``len``, ``representation``,
            ``normalizer``, ``feature_dim``, ``feature_set``, ``fps``, ``window_frames``.
        method_factory: ``f(representation, normalizer, feature_dim) -> nn.Module`` (default:
            ``choreo.models.build_method(config.method, config.model, ...)``).
        resume: continue from ``run_dir/last.ckpt`` (a fresh start if there is none).
        progress: show a progress bar (None: when stderr is a terminal).
        log: where one-line messages go (rank 0 only).
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | os.PathLike,
        *,
        dataset=None,
        method_factory: MethodFactory | None = None,
        resume: bool = False,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.run_dir = Path(run_dir)
        self.dataset = dataset
        self.method_factory = method_factory
        self.resume = resume
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self.info: DistInfo | None = None
        self.method: nn.Module | None = None
        self.ema: EMA | None = None
        self.step = 0

    # --- setup ---------------------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        if self.info is None or self.info.is_main:
            self._log(msg)

    def _load_dataset(self):
        from choreo.data.datasets import build_dataset

        # rank 0 encodes and fills the cache first; the others then read it instead of redoing the work.
        if self.info.is_main:
            ds = build_dataset(self.config.data, split="train", log=self.say)
        barrier(self.info)
        if not self.info.is_main:
            ds = build_dataset(self.config.data, split="train", log=lambda m: None)
        return ds

    def _build_method(self, ds) -> nn.Module:
        if self.method_factory is not None:
            return self.method_factory(ds.representation, ds.normalizer, ds.feature_dim)
        from choreo.models import build_method

        return build_method(
            self.config.method, dict(self.config.model), ds.representation, ds.normalizer, ds.feature_dim
        )

    def _checkpoint_state(self, optimizer, scaler, elapsed: float) -> dict:
        ds = self.dataset
        return {
            "format": ckpt_io.FORMAT,
            "version": ckpt_io.VERSION,
            "method": self.config.method,
            "config": self.config.to_dict(),
            "model_config": dict(self.config.model),
            "representation": ds.representation.name,
            "skeleton": ds.representation.skeleton.to_arrays(),
            "feature_set": ds.feature_set,
            "fps": float(ds.fps),
            "window_frames": int(ds.window_frames),
            "normalizer": ds.normalizer.state_dict(),
            "model": self.method.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "ema_updates": self.ema.updates if self.ema else 0,
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "step": self.step,
            "elapsed": elapsed,
            "world_size": self.info.world_size,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": _np_state(),
                "python": random.getstate(),
                "sampler": {"seed": self.config.train.seed, "step": self.step},
            },
        }

    # --- the loop ------------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Run until ``config.train.steps``; returns ``{"step", "loss", "run_dir", "checkpoint", "elapsed"}``."""
        self.info = init_distributed(self.config.train.device)
        try:
            return self._fit()
        finally:
            shutdown(self.info)

    def _fit(self) -> dict:
        cfg, tc, info = self.config, self.config.train, self.info
        device = info.device
        last = self.run_dir / ckpt_io.LAST
        state = None
        if self.resume and last.exists():
            state = ckpt_io.load_checkpoint(last, map_location="cpu")
            self.say(f"resuming {self.run_dir} from step {state['step']}")
        elif not self.resume and (last.exists() or any(self.run_dir.glob("step_*.ckpt"))):
            raise ChoreoError("this folder already holds a training run; pass --resume or another --out", self.run_dir)
        if tc.batch_size % info.world_size:
            raise ChoreoError(f"batch size {tc.batch_size} is not divisible by the {info.world_size} processes")
        if tc.steps < 0 or tc.batch_size <= 0:
            raise ChoreoError("steps must be >= 0 and batch size > 0")

        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        if self.dataset is None:
            self.dataset = self._load_dataset()
        ds = self.dataset
        if len(ds) == 0:
            raise ChoreoError("the training set has no windows (sequences shorter than one window?)", cfg.data.path)
        if state is not None:
            from choreo.data.normalizer import MinMaxNormalizer

            ds.set_normalizer(MinMaxNormalizer.from_state_dict(state["normalizer"]))

        torch.manual_seed(tc.seed)
        method = self._build_method(ds).to(device)
        method.train()
        self.method = method
        broadcast_module(method, info)
        params = [p for p in method.parameters() if p.requires_grad]
        if not params:
            raise ChoreoError(f"method {cfg.method!r} has no trainable parameters")
        optimizer = build_optimizer(params, tc)
        amp_dtype = resolve_precision(tc.precision, device)
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 and device.type == "cuda" else None
        self.ema = EMA(method, tc.ema_decay, tc.ema_warmup) if tc.ema_decay > 0 else None
        elapsed_before = 0.0
        self.step = 0
        if state is not None:
            try:
                method.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                if self.ema is not None and state.get("ema") is not None:
                    self.ema.load_state_dict(state["ema"], state.get("ema_updates", 0))
            except (RuntimeError, ValueError, KeyError) as exc:
                raise ChoreoError(
                    f"the checkpoint does not fit this model/optimizer config ({str(exc).splitlines()[0][:200]}); "
                    "resume with the run's own config.yaml",
                    last,
                ) from None
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            self.step = int(state["step"])
            elapsed_before = float(state.get("elapsed", 0.0))
            _restore_rng(state.get("rng") or {})

        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / "config.yaml")
        log = CsvLog(self.run_dir / "log.csv", self.step if state is not None else None) if info.is_main else None
        sampler = GlobalBatchSampler(len(ds), tc.batch_size, tc.seed)
        if device.type == "cuda" and hasattr(ds, "to"):
            ds.to(device)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        start = self.step
        self.say(
            f"training {cfg.method} on {len(ds)} windows ({ds.representation.name}, {ds.feature_set}) for steps "
            f"{start}..{tc.steps}, batch {tc.batch_size} on {info.world_size} x {device}"
            + (f", autocast {str(amp_dtype).replace('torch.', '')}" if amp_dtype else "")
        )
        bar = None
        if self.progress and info.is_main:
            from tqdm import tqdm

            bar = tqdm(total=tc.steps, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr)
        t0 = time.time()
        t_log, n_since_log = time.time(), 0
        sums: dict[str, object] = {}
        last_loss = float("nan")
        last_saved = start if state is not None else -1
        saved_path = last if state is not None else None
        try:
            while self.step < tc.steps:
                step = self.step
                lr = tc.lr * min(1.0, (step + 1) / tc.warmup_steps) if tc.warmup_steps > 0 else tc.lr
                for g in optimizer.param_groups:
                    g["lr"] = lr
                # Dropout and anything else on the global RNG: a function of (seed, step, rank), so resume is exact.
                torch.manual_seed(int(mix_seed(tc.seed, step, info.rank, 7)))
                positions = sampler.local_slice(step, info.rank, info.world_size)
                batch = ds.get(sampler.items(positions))
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                batch["seed"] = torch.from_numpy(sampler.sample_seeds(step, positions)).to(device)

                optimizer.zero_grad(set_to_none=True)
                ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
                with ctx:
                    loss, logs = method.training_loss(batch)
                (scaler.scale(loss) if scaler else loss).backward()
                average_gradients(params, info)
                if scaler:
                    scaler.unscale_(optimizer)
                if tc.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                if self.ema is not None:
                    self.ema.update(method)
                self.step += 1
                n_since_log += 1
                for k, v in {"loss": loss, **dict(logs)}.items():
                    v = v.detach().float() if isinstance(v, torch.Tensor) else float(v)
                    sums[k] = sums[k] + v if k in sums else v
                if bar is not None:
                    bar.update(1)

                if self.step % max(1, tc.log_every) == 0 or self.step == tc.steps:
                    keys = list(sums)
                    vals = average_values([float(sums[k]) / n_since_log for k in keys], info)
                    now = time.time()
                    sps = n_since_log * tc.batch_size / max(now - t_log, 1e-9)
                    row = {"step": self.step, **dict(zip(keys, vals, strict=True)), "lr": lr, "samples_per_s": sps}
                    row["elapsed_s"] = elapsed_before + now - t0
                    last_loss = row["loss"]
                    if not math.isfinite(last_loss):
                        raise ChoreoError(
                            f"the loss became {last_loss} at step {self.step}; "
                            "lower the learning rate or check the data",
                            self.run_dir,
                        )
                    if log is not None:
                        log.write(row)
                    if bar is not None:
                        bar.set_postfix(loss=f"{last_loss:.4f}", samples_s=f"{sps:.0f}")
                    sums, t_log, n_since_log = {}, now, 0

                if self.step % max(1, tc.save_every) == 0 or self.step == tc.steps:
                    saved_path = self._save(optimizer, scaler, elapsed_before + time.time() - t0)
                    last_saved = self.step
        finally:
            if bar is not None:
                bar.close()
        if last_saved != self.step and tc.steps > 0 and self.step > 0:
            saved_path = self._save(optimizer, scaler, elapsed_before + time.time() - t0)
        return {
            "step": self.step,
            "loss": last_loss,
            "run_dir": str(self.run_dir),
            "checkpoint": str(saved_path) if saved_path else None,
            "elapsed": elapsed_before + time.time() - t0,
        }

    def _save(self, optimizer, scaler, elapsed: float) -> Path | None:
        path = None
        if self.info.is_main:
            state = self._checkpoint_state(optimizer, scaler, elapsed)
            path = ckpt_io.save_run_checkpoint(self.run_dir, state, self.step, self.config.train.keep_last)
        barrier(self.info)
        return path


def _np_state() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the legacy global state is what we save)
    return {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached": cached}


def _restore_rng(rng: dict) -> None:
    """Put back the global RNG states saved with a checkpoint (the loop reseeds per step, this is belt and braces)."""
    with contextlib.suppress(Exception):
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if "numpy" in rng:
            s = rng["numpy"]
            np.random.set_state((s["name"], np.asarray(s["keys"], np.uint32), s["pos"], s["has_gauss"], s["cached"]))  # noqa: NPY002
        if "python" in rng:
            p = rng["python"]
            random.setstate((p[0], tuple(p[1]), p[2]))
