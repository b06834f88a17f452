"""The one training loop for every method: data, optimisers, EMA, mixed precision, checkpoints, resume, DDP.

A method follows :mod:`choreo.models.method`: it configures its own optimisers and schedules, says which of
them step at each global step (``phases``) and returns a per-sample loss for each phase. Batches are
``{"motion": (B, T, C) normalised, "music": (B, T, F), "seed": (B,) int64}`` plus what the data config
adds (``motion@<fps>``, ``audio``). The run folder gets ``config.yaml``, ``log.csv`` (step, loss terms, lr,
samples/s, elapsed) and checkpoints (``last.ckpt`` + ``step_XXXXXX.ckpt``, newest ``keep_last`` kept).
``resume=True`` continues from ``last.ckpt`` exactly: the batch order and every random draw are functions
of (seed, step), see :mod:`choreo.train.sampling`.
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

from choreo import checkpoint as ckpt_io
from choreo.errors import ChoreoError
from choreo.fileio import atomic_open
from choreo.models.method import Method, Optimization
from choreo.seeding import mix_seed
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
from choreo.train.sampling import GlobalBatchSampler

MethodFactory = Callable[..., Method]


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
    """``log.csv``: one row per logged step; on resume the rows after the checkpoint's step are dropped, and
    columns that a resumed run adds are appended (NaN in the rows before)."""

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
        elif added := [k for k in row if k not in self.columns]:
            # a resumed run that logs more (a loss term switched on in its config): widen the table, the
            # earlier rows get NaN in the new columns
            with open(self.path, newline="") as fh:
                rows = list(csv.reader(fh))[1:]
            self.columns = self.columns + added
            with atomic_open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerows([self.columns, *[r + ["nan"] * len(added) for r in rows]])
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
        dataset: a built training dataset (default: ``choreo.data.datasets.build_dataset(config.data, "train")``).
            It provides ``get(items) -> {name: tensor}``, ``len``, ``spec() -> DataSpec`` and
            ``set_normalizer``.
        method_factory: ``f(spec) -> Method`` (default: ``choreo.models.build_method(config.method,
            config.model, spec)``).
        resume: continue from ``run_dir/last.ckpt`` (a fresh start if there is none).
        stop_at: stop (with a checkpoint) at this global step although the schedule runs to
            ``config.train.steps`` (a run trained in several sittings follows one learning-rate curve).
        time_limit: stop (with a checkpoint) after this many seconds of training in this sitting.
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
        stop_at: int | None = None,
        time_limit: float | None = None,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.stop_at = stop_at
        self.time_limit = time_limit
        self.run_dir = Path(run_dir)
        self.dataset = dataset
        self.method_factory = method_factory
        self.resume = resume
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self.info: DistInfo | None = None
        self.method: Method | None = None
        self.optimizers: dict[str, Optimization] = {}
        self.emas: dict[str, EMA] = {}
        self.scaler = None
        self.step = 0

    def say(self, msg: str) -> None:
        if self.info is None or self.info.is_main:
            self._log(msg)

    def fit(self) -> dict:
        """Run until ``config.train.steps``; returns ``{"step", "loss", "run_dir", "checkpoint", "elapsed"}``."""
        self.info = init_distributed(self.config.train.device)
        try:
            return self._fit()
        finally:
            shutdown(self.info)

    # --- the loop, top to bottom ---------------------------------------------------------------------
    def _fit(self) -> dict:
        cfg, tc, info = self.config, self.config.train, self.info
        state = self._read_resume_state()
        self._check_settings()
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        ds = self.dataset = self.dataset if self.dataset is not None else self._load_dataset()
        if len(ds) == 0:
            raise ChoreoError("the training set has no windows (sequences shorter than one window?)", cfg.data.path)
        init = self._read_init_state() if state is None else None
        source = state if state is not None else init
        if source is not None and (source.get("spec") or {}).get("normalizer") is not None:
            from choreo.data.normalizer import normalizer_from_state_dict

            ds.set_normalizer(normalizer_from_state_dict(source["spec"]["normalizer"]))

        self._setup_method(ds)
        elapsed_before = self._restore(state) if state is not None else 0.0
        if init is not None:
            self._initialise(init)
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / "config.yaml")
        log = CsvLog(self.run_dir / "log.csv", self.step if state is not None else None) if info.is_main else None
        sampler = GlobalBatchSampler(len(ds), tc.batch_size, tc.seed)
        if info.device.type == "cuda":
            if hasattr(ds, "to"):
                ds.to(info.device)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.say(self._banner(ds))

        bar = self._progress_bar()
        meter = _Meter()
        t0 = t_log = time.time()
        last_loss, saved_path = float("nan"), (self.run_dir / ckpt_io.LAST if state is not None else None)
        last_saved = self.step if state is not None else -1
        end = tc.steps if self.stop_at is None else min(tc.steps, self.stop_at)
        try:
            while self.step < end:
                if self.time_limit is not None and time.time() - t0 > self.time_limit:
                    self.say(f"time limit reached at step {self.step}; resume with --resume")
                    break
                meter.add(self._train_step(ds, sampler))
                self.step += 1
                if bar is not None:
                    bar.update(1)
                if self.step % max(1, tc.log_every) == 0 or self.step == end:
                    now = time.time()
                    row = meter.row(self.step, self._lrs(), tc.batch_size / max(now - t_log, 1e-9), info)
                    row["elapsed_s"] = elapsed_before + now - t0
                    last_loss, t_log = row["loss"], now
                    if not math.isfinite(last_loss):
                        raise ChoreoError(
                            f"the loss became {last_loss} at step {self.step}; "
                            "lower the learning rate or check the data",
                            self.run_dir,
                        )
                    if log is not None:
                        log.write(row)
                    if bar is not None:
                        bar.set_postfix(loss=f"{last_loss:.4f}", samples_s=f"{row['samples_per_s']:.0f}")
                if self.step % max(1, tc.save_every) == 0 or self.step == end:
                    saved_path, last_saved = self._save(elapsed_before + time.time() - t0), self.step
        finally:
            if bar is not None:
                bar.close()
        if last_saved != self.step and tc.steps > 0 and self.step > 0:
            saved_path = self._save(elapsed_before + time.time() - t0)
        return {
            "step": self.step,
            "loss": last_loss,
            "run_dir": str(self.run_dir),
            "checkpoint": str(saved_path) if saved_path else None,
            "elapsed": elapsed_before + time.time() - t0,
        }

    def _train_step(self, ds, sampler: GlobalBatchSampler) -> dict[str, float]:
        """One global step: every phase the method asks for, each with its own optimiser; then the EMAs.

        Returns the per-sample sums of the logged terms over this process's samples (and their count).
        """
        tc, info, method, step = self.config.train, self.info, self.method, self.step
        epoch = step * tc.batch_size / len(ds)
        # dropout and anything else on the global RNG: a function of (seed, step, rank), so resume is exact
        torch.manual_seed(int(mix_seed(tc.seed, step, info.rank, 7)))
        positions = sampler.local_slice(step, info.rank, info.world_size)
        batch = {k: v.to(info.device, non_blocking=True) for k, v in ds.get(sampler.items(positions)).items()}
        batch["seed"] = torch.from_numpy(sampler.sample_seeds(step, positions)).to(info.device)
        n_local = len(positions)
        phases = list(method.phases(step))
        sums: dict[str, float | torch.Tensor] = {"n": float(n_local)}
        for phase in phases:
            opt = self.optimizers[phase]
            opt.optimizer.zero_grad(set_to_none=True)
            phase_loss = 0.0
            for micro in _micro_batches(batch, tc.grad_accum):
                with self._autocast():
                    per_sample, terms = method.training_loss(micro, phase, step, epoch)
                if per_sample.ndim != 1 or per_sample.shape[0] != len(micro["seed"]):
                    raise ChoreoError(
                        f"method {method.name!r} must return a per-sample loss of shape (B,), "
                        f"got {tuple(per_sample.shape)}"
                    )
                # the mean over this process's samples; processes are averaged with the gradients
                loss = per_sample.float().sum() / n_local
                (self.scaler.scale(loss) if self.scaler else loss).backward()
                phase_loss = phase_loss + per_sample.detach().float().sum()
                for k, v in terms.items():
                    per = isinstance(v, torch.Tensor) and v.ndim
                    v = v.detach().float().sum() if per else float(v) * len(micro["seed"])
                    sums[k] = sums.get(k, 0.0) + v
            sums["loss" if len(phases) == 1 else f"loss_{phase}"] = phase_loss
            self._optimizer_step(opt)
        if self.scaler is not None:
            self.scaler.update()
        components = method.components()
        for name, ema in self.emas.items():
            ema.update(components[name])
        if len(phases) > 1:
            sums["loss"] = sum(sums[f"loss_{p}"] for p in phases)
        return {k: float(v) for k, v in sums.items()}

    def _optimizer_step(self, opt: Optimization) -> None:
        average_gradients(opt.params, self.info)
        if self.scaler:
            self.scaler.unscale_(opt.optimizer)
        clip = self.config.train.grad_clip if opt.grad_clip is None else opt.grad_clip
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(opt.params, clip)
        if self.scaler:
            self.scaler.step(opt.optimizer)
        else:
            opt.optimizer.step()
        if opt.scheduler is not None:
            opt.scheduler.step()

    # --- setup -----------------------------------------------------------------------------------------
    def _read_resume_state(self) -> dict | None:
        last = self.run_dir / ckpt_io.LAST
        if self.resume and last.exists():
            state = ckpt_io.load_checkpoint(last, map_location="cpu")
            self.say(f"resuming {self.run_dir} from step {state['step']}")
            return state
        if not self.resume and (last.exists() or any(self.run_dir.glob("step_*.ckpt"))):
            raise ChoreoError("this folder already holds a training run; pass --resume or another --out", self.run_dir)
        return None

    def _read_init_state(self) -> dict | None:
        src = self.config.train.init_from
        if not src:
            return None
        state = ckpt_io.load_checkpoint(src, map_location="cpu")
        if state.get("method") != self.config.method:
            raise ChoreoError(
                f"train.init_from holds method {state.get('method')!r}; this run trains {self.config.method!r}", src
            )
        return state

    def _initialise(self, state: dict) -> None:
        """Start the weights (and their EMAs) from ``train.init_from``: EMA weights where the checkpoint has them."""
        tc = self.config.train
        trained, ema = dict(state.get("components") or {}), dict(state.get("ema") or {})
        weights = {**trained, **ema}
        names = list(tc.init_components) if tc.init_components is not None else sorted(self.method.components())
        missing = [n for n in names if n not in weights]
        if missing:
            raise ChoreoError(f"train.init_from has no component(s) {', '.join(missing)}", tc.init_from)
        try:
            self.method.load_component_state({n: weights[n] for n in names}, strict=False)
        except ChoreoError as exc:
            raise ChoreoError(f"train.init_from does not fit this model ({exc.message})", tc.init_from) from None
        comps = self.method.components()
        for n, e in self.emas.items():
            if n in names:
                e.shadow.load_state_dict(comps[n].state_dict())
        broadcast_module(self.method, self.info)
        self.say(f"weights of {', '.join(names)} from {tc.init_from}")

    def _check_settings(self) -> None:
        tc, info = self.config.train, self.info
        if tc.steps < 0 or tc.batch_size <= 0 or tc.grad_accum < 1:
            raise ChoreoError("steps must be >= 0, batch size > 0 and grad_accum >= 1")
        if tc.batch_size % (info.world_size * tc.grad_accum):
            raise ChoreoError(
                f"batch size {tc.batch_size} is not divisible by {info.world_size} process(es) x "
                f"{tc.grad_accum} micro-batch(es)"
            )

    def _load_dataset(self):
        from choreo.models import trains_on

        if trains_on(self.config.method) == "audio":  # e.g. an audio codec: waveform windows from any songs
            from choreo.data.audio_windows import build_audio_dataset as build_dataset
        else:
            from choreo.data.datasets import build_dataset

        # rank 0 encodes and fills the cache first; the others then read it instead of redoing the work.
        if self.info.is_main:
            ds = build_dataset(self.config.data, split="train", log=self.say)
        barrier(self.info)
        if not self.info.is_main:
            ds = build_dataset(self.config.data, split="train", log=lambda m: None)
        return ds

    def _trained_parts(self, model: dict) -> dict:
        """The trained models a new run's settings build on (D2M-GAN's codec), read here so that the method never
        reads files: ``{builder keyword: trained Method}`` from the method class's ``trained_parts(settings)``
        (a file, run folder or packaged name each; none when the settings embed them, as a checkpoint's do)."""
        from choreo.models import method_class
        from choreo.packaged import resolve_model

        wanted = method_class(self.config.method).trained_parts(model)
        parts = {}
        for key, ref in wanted.items():
            path = resolve_model(ref, produces=key)
            parts[key] = ckpt_io.load_method(path, device="cpu")[0]
            self.say(f"{key} from {path}")
        return parts

    def _setup_method(self, ds) -> None:
        """Build the method, its optimisers, EMAs and loss scaler (same initial weights on every process)."""
        tc, info = self.config.train, self.info
        torch.manual_seed(tc.seed)
        if self.method_factory is not None:
            method = self.method_factory(ds.spec())
        else:
            from choreo.models import build_method

            model = dict(self.config.model)
            method = build_method(self.config.method, model, ds.spec(), **self._trained_parts(model))
        method = method.to(info.device)
        method.train()
        broadcast_module(method, info)
        self.method = method
        self.optimizers = method.configure_optimizers(tc)
        components = method.components()
        self.emas = (
            {n: EMA(components[n], tc.ema_decay, tc.ema_warmup) for n in method.ema_names()} if tc.ema_decay > 0 else {}
        )
        amp_dtype = resolve_precision(tc.precision, info.device)
        self.amp_dtype = amp_dtype
        fp16_cuda = amp_dtype == torch.float16 and info.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if fp16_cuda else None
        self.step = 0

    def _restore(self, state: dict) -> float:
        """Load weights, EMAs, optimisers, schedulers, scaler, step and RNG from a checkpoint; returns elapsed s."""
        last = self.run_dir / ckpt_io.LAST
        try:
            self.method.load_component_state(state["components"])
            for name, ema in self.emas.items():
                ema_state = (state.get("ema") or {}).get(name)
                if ema_state is not None:
                    ema.load_state_dict(ema_state, (state.get("ema_updates") or {}).get(name, 0))
            saved_opts, saved_scheds = state.get("optimizers") or {}, state.get("schedulers") or {}
            for name, opt in self.optimizers.items():
                if name in saved_opts:
                    opt.optimizer.load_state_dict(saved_opts[name])
                if opt.scheduler is not None and name in saved_scheds:
                    opt.scheduler.load_state_dict(saved_scheds[name])
                elif opt.scheduler is not None:  # a version-1 run: put the schedule where the step says
                    opt.scheduler.last_epoch = int(state["step"])
                    for g, lr in zip(opt.optimizer.param_groups, opt.scheduler.get_lr(), strict=True):
                        g["lr"] = lr
        except (RuntimeError, ValueError, KeyError, ChoreoError) as exc:
            msg = exc.message if isinstance(exc, ChoreoError) else str(exc).splitlines()[0][:200]
            raise ChoreoError(
                f"the checkpoint does not fit this model/optimizer config ({msg}); "
                "resume with the run's own config.yaml",
                last,
            ) from None
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        _restore_rng(state.get("rng") or {})
        return float(state.get("elapsed", 0.0))

    # --- helpers -----------------------------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.info.device.type, dtype=self.amp_dtype)

    def _lrs(self) -> dict[str, float]:
        lrs = {n: o.optimizer.param_groups[0]["lr"] for n, o in self.optimizers.items()}
        return {"lr": next(iter(lrs.values()))} if len(lrs) == 1 else {f"lr_{n}": v for n, v in lrs.items()}

    def _banner(self, ds) -> str:
        cfg, tc, info = self.config, self.config.train, self.info
        what = f"{len(ds)} windows"
        rep = getattr(ds, "representation", None)
        if rep is not None:
            what += f" ({rep.name}, {getattr(ds, 'feature_set', '')})"
        amp = f", autocast {str(self.amp_dtype).replace('torch.', '')}" if self.amp_dtype else ""
        accum = f" in {tc.grad_accum} micro-batches" if tc.grad_accum > 1 else ""
        return (
            f"training {cfg.method} on {what} for steps {self.step}..{tc.steps}, batch {tc.batch_size}{accum} "
            f"on {info.world_size} x {info.device}{amp}"
        )

    def _progress_bar(self):
        if not (self.progress and self.info.is_main):
            return None
        from tqdm import tqdm

        return tqdm(total=self.config.train.steps, initial=self.step, unit="step", dynamic_ncols=True, file=sys.stderr)

    def _checkpoint_state(self, elapsed: float) -> dict:
        method = self.method
        config = self.config.to_dict()
        if hasattr(method.config, "to_dict"):  # every setting spelled out, sampling defaults included
            config["model"] = method.config.to_dict()
        return {
            "format": ckpt_io.FORMAT,
            "version": ckpt_io.VERSION,
            "method": self.config.method,
            "produces": method.produces,
            "config": config,
            "spec": method.spec.state_dict(),
            "components": method.component_state(),
            "ema": {n: e.state_dict() for n, e in self.emas.items()},
            "ema_updates": {n: e.updates for n, e in self.emas.items()},
            "optimizers": {n: o.optimizer.state_dict() for n, o in self.optimizers.items()},
            "schedulers": {n: o.scheduler.state_dict() for n, o in self.optimizers.items() if o.scheduler is not None},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
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

    def _save(self, elapsed: float) -> Path | None:
        path = None
        if self.info.is_main:
            state = self._checkpoint_state(elapsed)
            path = ckpt_io.save_run_checkpoint(self.run_dir, state, self.step, self.config.train.keep_last)
        barrier(self.info)
        return path


class _Meter:
    """Sums of logged terms between two log rows; a row holds their global per-sample means."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.steps = 0

    def add(self, sums: dict[str, float]) -> None:
        for k, v in sums.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def row(self, step: int, lrs: dict[str, float], batch_per_s: float, info: DistInfo) -> dict[str, float]:
        n = self.sums.pop("n")
        keys = ["loss", *sorted(k for k in self.sums if k != "loss")]
        vals = average_values([self.sums[k] / n for k in keys], info)
        row = {"step": step, **dict(zip(keys, vals, strict=True)), **lrs, "samples_per_s": self.steps * batch_per_s}
        self.sums, self.steps = {}, 0
        return row


def _micro_batches(batch: dict[str, torch.Tensor], n: int) -> list[dict[str, torch.Tensor]]:
    """Split a batch into ``n`` equal consecutive parts (``n`` divides its size: checked at setup)."""
    if n == 1:
        return [batch]
    size = len(batch["seed"]) // n
    return [{k: v[i * size : (i + 1) * size] for k, v in batch.items()} for i in range(n)]


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
