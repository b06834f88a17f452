"""The studio's job queue: one worker thread runs generation, music and rendering jobs one at a time.

Dancing uses every core already, so running two jobs at once would only make both slower and could
exhaust memory; jobs therefore wait in a bounded queue (a full queue refuses new work with a clear
message) and whoever submits one polls its state and progress. A job that fails records its message and
the worker goes on with the next one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from choreo.errors import ChoreoError
from choreo.studio.store import new_id

log = logging.getLogger("choreo.studio")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

_current = threading.local()


def current_job() -> Job | None:
    """The job the calling thread is running (None outside a job)."""
    return getattr(_current, "job", None)


@dataclass
class Job:
    """One piece of work and what is known about it.

    Attributes:
        id: opaque id; kind: ``dance``, ``music``, ``export``...; title: what the page shows.
        state: ``queued``, ``running``, ``done`` or ``failed``.
        progress: 0..1; message: what it is doing now; result: what it made (a dict); error: why it failed.
    """

    kind: str
    title: str
    run: Callable[[Job], dict]
    id: str = field(default_factory=new_id)
    state: str = QUEUED
    progress: float = 0.0
    message: str = "waiting in the queue"
    result: dict | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    span: tuple[float, float] = (0.0, 1.0)

    def stage(self, start: float, end: float, message: str) -> None:
        """Begin a stage that covers progress ``start``..``end``; bars inside it fill that span."""
        self.span = (float(start), float(end))
        self.report(start, message)

    def report_stage(self, fraction: float, message: str | None = None) -> None:
        """Progress within the current stage (0..1)."""
        a, b = self.span
        self.report(a + (b - a) * min(1.0, max(0.0, fraction)), message)

    def report(self, fraction: float | None = None, message: str | None = None) -> None:
        """Progress from inside the job: a fraction of the work done (0..1) and/or what it is doing."""
        if fraction is not None:
            self.progress = float(min(1.0, max(0.0, fraction)))
        if message is not None:
            self.message = message

    def to_dict(self, position: int | None = None) -> dict[str, Any]:
        out = {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "progress": round(self.progress, 4),
            "message": self.message,
            "result": self.result,
            "error": self.error,
        }
        if position is not None:
            out["position"] = position
        return out


class QueueFull(ChoreoError):
    """Too many jobs are waiting."""


class JobQueue:
    """A FIFO of jobs run by ``workers`` threads (default one).

    Args:
        max_waiting: most jobs waiting at once; more are refused with :class:`QueueFull`.
        keep: how many finished jobs are remembered for the page to poll.
        describe: turns a job's ChoreoError into the message the page shows (default ``str``).
    """

    def __init__(
        self,
        workers: int = 1,
        max_waiting: int = 8,
        keep: int = 200,
        describe: Callable[[ChoreoError], str] | None = None,
    ):
        self.max_waiting = max_waiting
        self.describe = describe or str
        self.keep = keep
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"choreo-studio-worker-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, kind: str, title: str, run: Callable[[Job], dict]) -> Job:
        """Queue ``run(job) -> result dict``; returns the job at once."""
        job = Job(kind, title, run)
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j.state == QUEUED)
            if waiting >= self.max_waiting:
                raise QueueFull(f"{waiting} jobs are already waiting; try again when one has finished")
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.state in (DONE, FAILED)]
            for k in finished[: max(0, len(finished) - self.keep)]:
                del self._jobs[k]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run or wait before this one (0: it is running or done)."""
        if job.state != QUEUED:
            return 0
        with self._lock:
            ahead = [j for j in self._jobs.values() if j.state in (QUEUED, RUNNING) and j.created <= job.created]
        return max(0, len(ahead) - 1)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Block until the job has finished (for tests and scripts)."""
        end = None if timeout is None else time.monotonic() + timeout
        while job.state in (QUEUED, RUNNING):
            if end is not None and time.monotonic() > end:
                raise TimeoutError(f"job {job.id} still {job.state}")
            time.sleep(0.02)
        return job

    def close(self) -> None:
        """Stop the workers after the job they are running (jobs still waiting are dropped)."""
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            job.state, job.message = RUNNING, "starting"
            _current.job = job
            try:
                job.result = job.run(job) or {}
                job.progress, job.message, job.state = 1.0, "done", DONE
            except ChoreoError as exc:
                job.error, job.state = self.describe(exc), FAILED
            except Exception as exc:  # a bug must not take the studio down: report it and go on
                log.exception("job %s (%s) failed", job.id, job.kind)
                job.error, job.state = f"internal error ({type(exc).__name__}: {exc})", FAILED
            finally:
                _current.job = None
                if job.state == FAILED:
                    job.message = "failed"
