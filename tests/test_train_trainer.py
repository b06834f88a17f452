"""The trainer on a tiny stand-in method: exact resume, crash while saving, 1 vs 2 processes (torchrun)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from choreo import checkpoint as ck
from choreo.errors import ChoreoError
from choreo.optim import lr_factor
from choreo.train.config import RunConfig
from choreo.train.trainer import Trainer, read_log
from conftest import flat_components

# The stand-in method and dataset, as source, so the torchrun worker script can run the very same code.
TOY_SRC = textwrap.dedent(
    '''
    import types

    import numpy as np
    import torch
    from torch import nn

    from choreo.data.windows import WindowDataset
    from choreo.models.method import Method, Optimization
    from choreo.motion.skeleton import SMPL24
    from choreo.optim import build_optimizer, warmup_schedule


    class Toy(Method):
        """Denoise x from a per-sample random mix with noise; every draw comes from batch["seed"].

        With ``gan=True`` a critic joins with its own optimiser (Adam, betas (0.5, 0.9)), stepped first at every
        step, and the denoiser also tries to fool it: two phases, two optimisers, as D2M-GAN trains.
        """

        name = "toy"

        def __init__(self, spec, gan=False):
            super().__init__(None, spec)
            dim, feature_dim = spec.representation.dim, spec.feature_dim
            self.net = nn.Sequential(nn.Linear(dim + feature_dim + 1, 32), nn.GELU(), nn.Linear(32, dim))
            self.unused = nn.Linear(2, 2)  # never gets a gradient: must not break the data-parallel path
            self.gan = gan
            if gan:
                self.critic = nn.Sequential(nn.Linear(dim, 16), nn.GELU(), nn.Linear(16, 1))

        def configure_optimizers(self, train):
            if not self.gan:
                return super().configure_optimizers(train)
            net = list(self.net.parameters()) + list(self.unused.parameters())
            opt = build_optimizer(net, train)
            crit = build_optimizer(self.critic.parameters(), train, optimizer="adam", betas=(0.5, 0.9))
            return {
                "critic": Optimization(crit),
                "main": Optimization(opt, warmup_schedule(opt, train.warmup_steps, train.steps, train.schedule)),
            }

        def phases(self, step):
            return ("critic", "main") if self.gan else ("main",)

        def _denoise(self, batch):
            x, m = batch["motion"], batch["music"]
            ts, noises = [], []
            for s in batch["seed"].tolist():
                g = torch.Generator().manual_seed(int(s))
                ts.append(torch.rand(1, generator=g))
                noises.append(torch.randn(x.shape[1:], generator=g))
            t = torch.stack(ts).to(x)[:, :, None].expand(-1, x.shape[1], 1)
            xt = x * (1 - t) + torch.stack(noises).to(x) * t
            return self.net(torch.cat([xt, m, t], -1))

        def training_loss(self, batch, phase, step, epoch):
            x = batch["motion"]
            pred = self._denoise(batch)
            if phase == "critic":
                real = torch.relu(1 - self.critic(x)).mean((1, 2))
                fake = torch.relu(1 + self.critic(pred.detach())).mean((1, 2))
                return real + fake, {"critic_real": real.detach()}
            mse = ((pred - x) ** 2).mean((1, 2))
            vel = ((pred[:, 1:] - pred[:, :-1] - x[:, 1:] + x[:, :-1]) ** 2).mean((1, 2))
            loss = mse + vel
            if self.gan:
                loss = loss - 0.1 * self.critic(pred).mean((1, 2))
            return loss, {"mse": mse.detach(), "vel": float(vel.detach().mean())}


    def toy_dataset():
        rng = np.random.default_rng(0)
        motions, music = [], []
        for T in (60, 45, 80):
            t = np.arange(T)[:, None] / 10.0
            motions.append(np.sin(t * rng.uniform(0.5, 2.0, 6) + rng.uniform(0, 6, 6)) * rng.uniform(1, 3, 6))
            music.append(np.cos(t * rng.uniform(0.5, 2.0, 3)))
        rep = types.SimpleNamespace(name="toy", skeleton=SMPL24, dim=6, contact_speed=0.3)
        return WindowDataset(motions, music, [0, 1, 2], 16, 4, representation=rep, feature_set="toy", fps=10.0)


    def toy_factory(spec):
        return Toy(spec)


    def toy_gan_factory(spec):
        return Toy(spec, gan=True)
    '''
)
_ns: dict = {}
exec(TOY_SRC, _ns)
toy_dataset, toy_factory, toy_gan_factory = _ns["toy_dataset"], _ns["toy_factory"], _ns["toy_gan_factory"]


def _config(steps: int, **train) -> RunConfig:
    cfg = RunConfig.from_dict(
        {
            "method": "toy",
            "train": {
                "steps": steps,
                "batch_size": 8,
                "lr": 3e-3,
                "ema_decay": 0.9,
                "log_every": 1,
                "save_every": 4,
                "keep_last": 2,
                "device": "cpu",
                "seed": 5,
                "threads": 1,
                **train,
            },
        }
    )
    return cfg


def _train(run_dir, steps, resume=False, factory=toy_factory, stop_at=None, **train):
    t = Trainer(
        _config(steps, **train),
        run_dir,
        dataset=toy_dataset(),
        method_factory=factory,
        resume=resume,
        stop_at=stop_at,
        progress=False,
    )
    return t.fit(), t


_flat = flat_components


def _weights(run_dir):
    s = ck.load_checkpoint(run_dir / "last.ckpt")
    return _flat(s["components"]), _flat(s["ema"]), s


def test_training_writes_run_folder_and_lowers_loss(tmp_path):
    out, _ = _train(tmp_path / "run", 40, save_every=16)
    run = tmp_path / "run"
    assert out["step"] == 40
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["last.ckpt", "step_000032.ckpt", "step_000040.ckpt"]
    assert RunConfig.load(run / "config.yaml").train.steps == 40
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert {"loss", "mse", "vel", "lr", "samples_per_s", "elapsed_s"} <= set(rows[0])
    assert np.mean([r["loss"] for r in rows[-5:]]) < 0.7 * np.mean([r["loss"] for r in rows[:5]])
    model, ema, state = _weights(run)
    spec = state["spec"]
    assert state["step"] == 40 and spec["representation"] == "toy" and spec["fps"] == 10.0
    assert spec["window_frames"] == 16 and spec["normalizer"]["kind"] == "minmax" and spec["feature_dim"] == 3
    assert state["produces"] == "dance" and set(state["components"]) == {"net", "unused"}
    assert not torch.equal(model["net.0.weight"], ema["net.0.weight"])


def test_resume_continues_exactly(tmp_path):
    _train(tmp_path / "straight", 12)
    _train(tmp_path / "split", 6)
    _train(tmp_path / "split", 12, resume=True)
    (m1, e1, _), (m2, e2, s2) = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=0, atol=0)
        torch.testing.assert_close(e2[k], e1[k], rtol=0, atol=0)
    la, lb = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    assert [r["step"] for r in lb] == list(range(1, 13))
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]
    assert s2["optimizers"]["main"]["state"][0]["step"] == 12


def test_existing_run_needs_resume(tmp_path):
    _train(tmp_path / "run", 4)
    with pytest.raises(ChoreoError, match="--resume"):
        _train(tmp_path / "run", 8)
    out, _ = _train(tmp_path / "run", 4, resume=True)  # nothing left to do
    assert out["step"] == 4


def test_crash_while_saving_keeps_previous_checkpoint_and_resume_is_exact(tmp_path, monkeypatch):
    _train(tmp_path / "straight", 12)
    real_save = torch.save
    calls = {"n": 0}

    def failing_save(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:  # the step-8 checkpoint: write half a file, then die
            with open(f, "wb") as fh:
                fh.write(b"PK\x03\x04 half a checkpoint")
            raise OSError("disk full (simulated)")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(ck.torch, "save", failing_save)
    with pytest.raises(OSError, match="simulated"):
        _train(tmp_path / "run", 12)
    monkeypatch.setattr(ck.torch, "save", real_save)
    run = tmp_path / "run"
    assert ck.load_checkpoint(run)["step"] == 4
    assert sorted(p.name for p in run.iterdir() if p.suffix == ".ckpt" or ".tmp" in p.name) == [
        "last.ckpt",
        "step_000004.ckpt",
    ]
    _train(run, 12, resume=True)
    (m1, _, _), (m2, _, _) = _weights(tmp_path / "straight"), _weights(run)
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=0, atol=0)
    assert [r["loss"] for r in read_log(run / "log.csv")] == [
        r["loss"] for r in read_log(tmp_path / "straight" / "log.csv")
    ]


def test_killed_process_mid_run_resumes(tmp_path):
    """A real SIGKILL while training (after the first checkpoint): the run folder stays loadable."""
    script = tmp_path / "worker.py"
    script.write_text(
        TOY_SRC
        + textwrap.dedent(
            """
            import sys, os, signal
            from choreo import checkpoint as ck
            from choreo.train.config import RunConfig
            from choreo.train.trainer import Trainer

            real = ck.save_run_checkpoint

            def save_then_die(run_dir, state, step, keep_last):
                out = real(run_dir, state, step, keep_last)
                if step == 8:
                    os.kill(os.getpid(), signal.SIGKILL)
                return out

            ck.save_run_checkpoint = save_then_die
            cfg = RunConfig.load(sys.argv[2])
            Trainer(cfg, sys.argv[1], dataset=toy_dataset(), method_factory=toy_factory, progress=False).fit()
            """
        )
    )
    _config(12).save(tmp_path / "cfg.yaml")
    r = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), str(tmp_path / "cfg.yaml")], timeout=120)
    assert r.returncode == -9
    assert ck.load_checkpoint(tmp_path / "run")["step"] == 8
    _train(tmp_path / "run", 12, resume=True)
    _train(tmp_path / "straight", 12)
    (m1, _, _), (m2, _, _) = _weights(tmp_path / "straight"), _weights(tmp_path / "run")
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["plain", "gan"])
def test_two_processes_give_the_single_process_loss_curve(tmp_path, kind):
    factory = toy_gan_factory if kind == "gan" else toy_factory
    train = {"warmup_steps": 3, "schedule": "cosine", "grad_accum": 2} if kind == "gan" else {}
    script = tmp_path / "worker.py"
    script.write_text(
        TOY_SRC
        + textwrap.dedent(
            """
            import os
            import sys
            from choreo.train.config import RunConfig
            from choreo.train.trainer import Trainer

            cfg = RunConfig.load(sys.argv[2])
            factory = toy_gan_factory if sys.argv[3] == "gan" else toy_factory
            Trainer(cfg, sys.argv[1], dataset=toy_dataset(), method_factory=factory, progress=False).fit()
            # as `python -m choreo` does under torchrun: skip C++ teardown, which can abort a finished process
            sys.stdout.flush(); sys.stderr.flush(); os._exit(0)
            """
        )
    )
    _config(10, **train).save(tmp_path / "cfg.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    r = subprocess.run(
        [*cmd, str(script), str(tmp_path / "two"), str(tmp_path / "cfg.yaml"), kind],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    _train(tmp_path / "one", 10, factory=factory, **train)
    one, two = read_log(tmp_path / "one" / "log.csv"), read_log(tmp_path / "two" / "log.csv")
    assert len(one) == len(two) == 10
    keys = ("loss", "mse", "vel") + (("loss_critic", "critic_real") if kind == "gan" else ())
    for a, b in zip(one, two, strict=True):
        for key in keys:
            assert b[key] == pytest.approx(a[key], rel=1e-5), (a["step"], key)
    (m1, _, _), (m2, _, s2) = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert s2["world_size"] == 2
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=1e-4, atol=1e-6)


def test_two_optimisers_resume_exactly_with_their_schedules(tmp_path):
    """A GAN-like method (critic + denoiser, own optimisers and schedules): resume is bit-exact for both."""
    train = {"warmup_steps": 4, "schedule": "cosine"}
    _train(tmp_path / "straight", 12, factory=toy_gan_factory, **train)
    # one learning-rate curve to step 12, trained in two sittings
    _train(tmp_path / "split", 12, factory=toy_gan_factory, stop_at=6, **train)
    assert ck.load_checkpoint(tmp_path / "split")["step"] == 6
    _train(tmp_path / "split", 12, resume=True, factory=toy_gan_factory, **train)
    (m1, e1, _), (m2, e2, s2) = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert set(s2["optimizers"]) == {"critic", "main"} and set(s2["schedulers"]) == {"main"}
    assert any(k.startswith("critic.") for k in m1) and any(k.startswith("critic.") for k in e1)
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=0, atol=0)
        torch.testing.assert_close(e2[k], e1[k], rtol=0, atol=0)
    la, lb = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    for key in ("loss", "loss_main", "loss_critic", "lr_main", "lr_critic"):
        assert [r[key] for r in la] == [r[key] for r in lb], key
    # the denoiser's schedule: 4 warm-up steps, then cosine to 0 at step 12; the critic's lr is constant
    want = [3e-3 * lr_factor(s, 4, 12, "cosine") for s in range(1, 13)]
    np.testing.assert_allclose([r["lr_main"] for r in la], want, rtol=1e-12)
    assert {r["lr_critic"] for r in la} == {3e-3}
    assert s2["optimizers"]["critic"]["param_groups"][0]["betas"] == (0.5, 0.9)


def test_gradient_accumulation_gives_the_same_training(tmp_path):
    """Micro-batches change memory, not the result: the per-sample loss is averaged over the whole batch."""
    _train(tmp_path / "whole", 6)
    _train(tmp_path / "accum", 6, grad_accum=4)
    (m1, _, _), (m2, _, _) = _weights(tmp_path / "whole"), _weights(tmp_path / "accum")
    for k in m1:
        torch.testing.assert_close(m2[k], m1[k], rtol=1e-5, atol=1e-6)
    la, lb = read_log(tmp_path / "whole" / "log.csv"), read_log(tmp_path / "accum" / "log.csv")
    np.testing.assert_allclose([r["loss"] for r in lb], [r["loss"] for r in la], rtol=1e-5)
    with pytest.raises(ChoreoError, match="micro-batch"):
        _train(tmp_path / "bad", 2, grad_accum=3)


def test_lr_factor_warmup_then_cosine_by_hand():
    assert lr_factor(0, 4, 14) == 0.25 and lr_factor(3, 4, 14) == 1.0 and lr_factor(9, 4, 14) == 1.0
    assert lr_factor(4, 4, 14, "cosine") == 1.0
    assert lr_factor(9, 4, 14, "cosine") == pytest.approx(0.5)  # halfway through the 10 decay steps
    assert lr_factor(14, 4, 14, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(100, 4, 14, "cosine", 0.1) == pytest.approx(0.1)
    with pytest.raises(ChoreoError, match="schedule"):
        lr_factor(0, 0, 10, "linear")


def test_log_of_a_resumed_run_keeps_columns_it_adds(tmp_path):
    """A run resumed with a loss term switched on logs that term: the header widens, earlier rows read NaN."""
    from choreo.train.trainer import CsvLog

    path = tmp_path / "log.csv"
    log = CsvLog(path, None)
    log.write({"step": 1, "loss": 2.0})
    log.write({"step": 2, "loss": 1.5})
    log = CsvLog(path, 1)  # resumed from step 1: step 2 is dropped
    log.write({"step": 2, "loss": 1.0, "beat": 0.25})
    rows = read_log(path)
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[1]["loss"] == 1.0 and rows[1]["beat"] == 0.25
    assert rows[0]["loss"] == 2.0 and np.isnan(rows[0]["beat"])
