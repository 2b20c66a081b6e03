"""The vocabulary of results, defined once: a run's status, and the columns of a results table.

    >>> from designspace.results import Status, RESULT_COLUMNS
    >>> Status.DONE == "done", Status("oom") in Status.trained()
    (True, True)

A training run ends `done`, `diverged` (its loss became NaN or inf: a result, and it counts) or
`oom`. In a sweep a model is first `pending`, then `running`; a model whose attempts all raised
an error is `failed`.
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DIVERGED = "diverged"
    OOM = "oom"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def trained(cls) -> tuple["Status", ...]:
        """The outcomes of a training run that reached its end (a TrainResult's status)."""
        return (cls.DONE, cls.DIVERGED, cls.OOM)

    @classmethod
    def finished(cls) -> tuple["Status", ...]:
        """A sweep row that will not be trained again (unless failed ones are retried)."""
        return cls.trained() + (cls.FAILED,)


STATUSES = tuple(s.value for s in Status)

# The results table: `designspace sweep export`, `read_results` and the analysis all use these, in this order.
RESULT_COLUMNS = ("sweep", "space", "index", "status", "spec", "values", "flops", "params", "acts", "resolution",
                  "best_error", "final_error", "epochs", "wall_time", "images_per_sec", "attempts", "last_error",
                  "host", "device", "created_at", "finished_at")
