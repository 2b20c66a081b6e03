"""One run's worker: typed tasks and answers, tracebacks kept on disk, programming errors not retried."""
import json
import os

import pytest

from designspace.data import DataConfig
from designspace.results import Status
from designspace.spec import NetSpec, StageSpec
from designspace.sweep.status import format_status, sweep_status
from designspace.sweep.store import Store
from designspace.sweep.task import Answer, RunKey, Task
from designspace.sweep.worker import train_task
from designspace.train import Recipe

SPEC = NetSpec(stages=(StageSpec(1, 8), StageSpec(1, 16)), stem="cifar", stem_width=8, num_classes=10)
DATA = DataConfig("synthetic", synthetic_train=64, synthetic_test=32, resolution=8)


def task(tmp_path, attempt=1) -> Task:
    return Task(key=RunKey("models", 1), label="anynetx_a #0", spec=SPEC, data=DATA,
                recipe=Recipe(epochs=1, batch_size=16, channels_last="off"), seed=3,
                run_dir=str(tmp_path / "runs" / "anynetx_a" / "0"), attempt=attempt, device="cpu", threads=1)


def test_tasks_and_answers_cross_json_unchanged(tmp_path):
    t = task(tmp_path)
    assert Task.from_json(json.loads(json.dumps(t.to_json()))) == t
    answer = train_task(t)
    assert answer.ok and answer.result.status == Status.DONE and answer.key == t.key
    back = Answer.from_json(json.loads(json.dumps(answer.to_json())))
    assert back.result.to_dict() == answer.result.to_dict() and back.key == answer.key
    failed = Answer.failed(t, "RuntimeError: boom", retry=False, traceback="x.txt")
    assert Answer.from_json(failed.to_json()) == failed and not failed.ok


def _raise(error):
    def train(*args, **kwargs):
        raise error
    return train


@pytest.mark.parametrize("error, retry", [(TypeError("train() got an unexpected keyword 'x'"), False),
                                          (KeyError("epochs"), False),
                                          (RuntimeError("CUDA error: an illegal memory access"), True)])
def test_a_failed_attempt_keeps_its_traceback_and_bugs_are_not_retried(tmp_path, monkeypatch, error, retry):
    import designspace.train as train_module

    monkeypatch.setattr(train_module, "train", _raise(error))
    answer = train_task(task(tmp_path, attempt=2))
    assert not answer.ok and answer.retry is retry and not answer.fatal
    assert answer.error.startswith(type(error).__name__)
    assert answer.traceback == os.path.join(task(tmp_path).run_dir, "traceback-2.txt")
    text = open(answer.traceback).read()
    assert "anynetx_a #0, attempt 2" in text and "Traceback (most recent call last)" in text
    assert f"{type(error).__name__}:" in text.splitlines()[-1]


def test_a_missing_data_set_is_fatal(tmp_path):
    t = Task(**{**task(tmp_path).__dict__, "data": DataConfig("cifar10", root=str(tmp_path / "nowhere"))})
    answer = train_task(t)
    assert answer.fatal and "cifar10 not found" in answer.error and answer.traceback is None


def test_a_bug_fails_at_once_and_status_names_the_traceback(tmp_path):
    rows = [{"space": "a", "index": i, "spec": SPEC.to_json(), "values": "{}", "flops": 1, "params": 1, "acts": 1,
             "resolution": 8} for i in range(2)]
    store = Store.create(str(tmp_path), "{}", "f", "t", rows)
    bug, flaky = store.key("a", 0), store.key("a", 1)
    store.mark_running(bug)
    assert store.mark_error(bug, "TypeError: x (traceback: runs/a/0/traceback-1.txt)", 3, retry=False) == "failed"
    store.mark_running(flaky)
    assert store.mark_error(flaky, "RuntimeError: y", 3, retry=True) == "pending"
    store.close()
    info = sweep_status(tmp_path)
    assert info["failures"] == [{"space": "a", "index": 0, "attempts": 1,
                                 "last_error": "TypeError: x (traceback: runs/a/0/traceback-1.txt)"}]
    assert "failed: a #0 after 1 attempt(s): TypeError: x (traceback: runs/a/0/traceback-1.txt)" in format_status(info)
