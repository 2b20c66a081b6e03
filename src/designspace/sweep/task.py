"""What travels between the driver and the workers: a Task out, an Answer back.

    task = Task(key=RunKey("models", 7), label="anynetx_a #6", spec=spec, data=DataConfig("fashion-mnist"),
                recipe=Recipe(epochs=2), seed=1234, run_dir="SWEEP/runs/anynetx_a/6", attempt=1)
    answer = train_task(task)            # designspace.sweep.worker: never raises
    answer.ok, answer.result.best_error

Both are frozen and typed. JSON appears only where they cross a process boundary that is not
a Python pipe (Ray, SLURM's answer files), through `to_json` / `from_json`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..data import DataConfig
from ..spec import NetSpec
from ..train import Recipe, TrainResult

TABLES = ("models", "calibration")


@dataclass(frozen=True)
class RunKey:
    """One training run in the store: a row of the sweep's `models` table or of its `calibration` table."""

    table: str
    position: int

    def to_json(self) -> list:
        return [self.table, self.position]

    @classmethod
    def from_json(cls, data) -> "RunKey":
        table, position = data
        return cls(str(table), int(position))


@dataclass(frozen=True)
class Task:
    key: RunKey
    label: str            # how logs and errors name the run ("anynetx_a #6")
    spec: NetSpec
    data: DataConfig
    recipe: Recipe
    seed: int
    run_dir: str          # the run trains here: checkpoint.pt, result.json, starts.jsonl, tracebacks
    attempt: int = 1
    device: str = "auto"
    threads: int | None = None

    def placed(self, device: str, threads: int | None) -> "Task":
        """The same task, told where to run."""
        return replace(self, device=device, threads=threads)

    def to_json(self) -> dict:
        return {"key": self.key.to_json(), "label": self.label, "spec": self.spec.to_dict(),
                "data": self.data.to_dict(), "recipe": self.recipe.to_dict(), "seed": self.seed,
                "run_dir": self.run_dir, "attempt": self.attempt, "device": self.device, "threads": self.threads}

    @classmethod
    def from_json(cls, data: dict) -> "Task":
        return cls(key=RunKey.from_json(data["key"]), label=data["label"], spec=NetSpec.from_dict(data["spec"]),
                   data=DataConfig.from_dict(data["data"]), recipe=Recipe.from_dict(data["recipe"]),
                   seed=int(data["seed"]), run_dir=data["run_dir"], attempt=int(data["attempt"]),
                   device=data["device"], threads=data["threads"])


@dataclass(frozen=True)
class Answer:
    """A finished attempt: a TrainResult, or an error (one line) and whether trying again can help."""

    key: RunKey
    attempt: int
    result: TrainResult | None = None
    error: str | None = None
    retry: bool = True        # False: our own bug, the same error would come again
    fatal: bool = False       # the data set is missing or malformed: stop the whole sweep
    traceback: str | None = None  # the file holding the attempt's full traceback

    @property
    def ok(self) -> bool:
        return self.result is not None

    @classmethod
    def finished(cls, task: Task, result: TrainResult) -> "Answer":
        return cls(task.key, task.attempt, result=result)

    @classmethod
    def failed(cls, task: Task, error: str, *, retry: bool = True, fatal: bool = False,
               traceback: str | None = None) -> "Answer":
        return cls(task.key, task.attempt, error=error, retry=retry, fatal=fatal, traceback=traceback)

    def to_json(self) -> dict:
        return {"key": self.key.to_json(), "attempt": self.attempt, "ok": self.ok,
                "result": None if self.result is None else self.result.to_dict(), "error": self.error,
                "retry": self.retry, "fatal": self.fatal, "traceback": self.traceback}

    @classmethod
    def from_json(cls, data: dict) -> "Answer":
        result = data.get("result")
        return cls(key=RunKey.from_json(data["key"]), attempt=int(data["attempt"]),
                   result=None if result is None else TrainResult.from_dict(result), error=data.get("error"),
                   retry=bool(data.get("retry", True)), fatal=bool(data.get("fatal", False)),
                   traceback=data.get("traceback"))
