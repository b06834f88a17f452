"""The studio's job queue (one worker, in order, failures isolated, bounded) and live progress from tqdm bars."""

from __future__ import annotations

import threading
import time

import pytest

from choreo.errors import ChoreoError
from choreo.studio import progress
from choreo.studio.jobs import JobQueue, QueueFull


@pytest.fixture
def jobs():
    q = JobQueue(max_waiting=3)
    yield q
    q.close()


def test_in_order_one_at_a_time_and_failures_are_isolated(jobs):
    running, seen = [], []
    lock = threading.Lock()

    def work(name, fail=None):
        def run(job):
            with lock:
                running.append(name)
                assert len(running) == 1  # never two at once
            time.sleep(0.02)
            with lock:
                running.remove(name)
                seen.append(name)
            if fail is not None:
                raise fail
            return {"name": name}

        return run

    a = jobs.submit("t", "a", work("a"))
    b = jobs.submit("t", "b", work("b", ChoreoError("bad input", "/somewhere/file.wav")))
    c = jobs.submit("t", "c", work("c", ZeroDivisionError("oops")))
    for j in (a, b, c):
        jobs.wait(j, timeout=10)
    d = jobs.wait(jobs.submit("t", "d", work("d")), timeout=10)
    assert seen == ["a", "b", "c", "d"]
    assert (a.state, a.result, a.progress) == ("done", {"name": "a"}, 1.0)
    assert b.state == "failed" and b.error == "/somewhere/file.wav: bad input"
    assert c.state == "failed" and "internal error (ZeroDivisionError: oops)" in c.error
    assert d.state == "done"


def test_a_full_queue_refuses_with_a_message(jobs):
    gate = threading.Event()
    hold = jobs.submit("t", "hold", lambda job: gate.wait(10) and {})
    while hold.state != "running":
        time.sleep(0.01)
    waiting = [jobs.submit("t", str(i), lambda job: {}) for i in range(3)]
    assert [jobs.position(j) for j in waiting] == [1, 2, 3]
    with pytest.raises(QueueFull, match="3 jobs are already waiting"):
        jobs.submit("t", "one too many", lambda job: {})
    gate.set()
    for j in waiting:
        assert jobs.wait(j, timeout=10).state == "done"


def test_progress_bars_report_to_their_job(jobs, capsys):
    progress.install()
    progress.install()  # idempotent
    import tqdm.auto

    seen = []

    def run(job):
        job.stage(0.5, 1.0, "dancing")
        bar = tqdm.auto.tqdm(total=4, desc="denoising", disable=True)  # as samplers make them when not asked
        for _ in range(4):
            bar.update(1)
            seen.append((round(job.progress, 3), job.message))
        bar.close()
        for _ in tqdm.tqdm(range(2), desc="render"):  # iterating, as the renderer does
            pass
        return {}

    jobs.wait(jobs.submit("t", "bars", run), timeout=10)
    assert seen == [(0.625, "denoising 1/4"), (0.75, "denoising 2/4"), (0.875, "denoising 3/4"), (1.0, "denoising 4/4")]
    assert "denoising" not in capsys.readouterr().err  # drawn nowhere
    # outside a job a bar is an ordinary bar
    bar = tqdm.auto.tqdm(total=2, desc="plain", disable=False)
    bar.update(2)
    bar.close()
    assert "plain" in capsys.readouterr().err
