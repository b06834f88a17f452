"""Live progress for studio jobs from the progress bars choreo already draws (tqdm).

The samplers and the renderer report progress through tqdm bars (``choreo dance`` shows them on the
terminal). In the studio those bars are redirected: a bar created while a job runs on the calling thread
draws nothing and reports its fraction to the job instead, mapped into the job's current stage. Bars
created anywhere else behave exactly as before, so installing this is harmless to other code.
"""

from __future__ import annotations

import os
import threading

from choreo.studio.jobs import current_job

_installed = False
_lock = threading.Lock()


def _reporting(base: type) -> type:
    """A subclass of tqdm class ``base`` whose bars report to the running job."""

    class JobBar(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            job = current_job()
            self._choreo_job = job
            if job is not None:
                # callers disable their bar when not asked for one; a job always wants the numbers
                kwargs["disable"] = False
                kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - closed with the bar
                kwargs["mininterval"] = 0.2
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            job = self._choreo_job
            if job is not None and self.total:
                job.report_stage(self.n / self.total, f"{self.desc or 'working'} {self.n}/{self.total}")
            return out

        def close(self):
            file = self.fp if self._choreo_job is not None else None
            super().close()
            if file is not None:
                file.close()

    JobBar.__name__ = JobBar.__qualname__ = f"JobBar_{base.__name__}"
    return JobBar


def install() -> None:
    """Route tqdm bars made on job threads to their job (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        import tqdm
        import tqdm.auto

        tqdm.auto.tqdm = _reporting(tqdm.auto.tqdm)
        tqdm.tqdm = _reporting(tqdm.tqdm)
        _installed = True
