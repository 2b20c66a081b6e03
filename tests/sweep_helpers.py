"""Shared pieces of the sweep tests: a tiny real sweep on synthetic images (or a small Fashion-MNIST subset)."""
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

FASHION = os.environ.get("DESIGNSPACE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def have_fashion_mnist() -> bool:
    return os.path.isfile(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))


needs_fashion_mnist = pytest.mark.skipif(not have_fashion_mnist(), reason="Debian's dataset-fashion-mnist is not installed")


def needs_module(name: str):
    """Skip unless `name` is importable (found without importing it: collection stays fast)."""
    return pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} is not installed")


@contextlib.contextmanager
def stopped_at_exit(proc, terminate_first: bool = False):
    """Yield `proc`; on leaving, a process still running is stopped (SIGTERM first if asked, then SIGKILL)."""
    try:
        yield proc
    finally:
        if proc.poll() is None and terminate_first:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def data_yaml(data: str, train_subset: int, test_subset: int) -> str:
    """The sweep's data: Fashion-MNIST's first images of each class, or as many synthetic images (28x28)."""
    if data == "fashion-mnist":
        return f"{{name: fashion-mnist, root: {FASHION}, train_subset: {train_subset}, test_subset: {test_subset}}}"
    return (f"{{name: synthetic, resolution: 28, synthetic_train: {10 * train_subset}, "
            f"synthetic_test: {10 * test_subset}}}")


def sweep_yaml(name="tiny", n=(2, 2), epochs=1, runner="type: local\n  slots: 2\n  threads_per_slot: 1",
               train_subset=10, test_subset=5, max_attempts=2, data="synthetic", recipe="") -> str:
    return textwrap.dedent(f"""\
        name: {name}
        seed: 0
        flops: "0.5M:2M"
        spaces:
          - {{name: anynetx_a, n: {n[0]}, options: {{stem: cifar}}}}
          - {{name: regnetx, n: {n[1]}, options: {{stem: cifar}}}}
        data: {data_yaml(data, train_subset, test_subset)}
        recipe: {{epochs: {epochs}, batch_size: 32, channels_last: "off"{", " + recipe if recipe else ""}}}
        runner:
          max_attempts: {max_attempts}
        """) + f"  {runner}\n"


def write_sweep(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def starts(run_dir) -> list:
    path = os.path.join(run_dir, "starts.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_driver(sweep_file, out_dir, *extra, prefix=(), env=None, log=None, command=None):
    """The sweep driver (or another `designspace` command) as its own process, so a test can kill it."""
    command = command or ("sweep", "run", str(sweep_file), "--out", str(out_dir), "--no-progress", *extra)
    cmd = [*prefix, sys.executable, "-m", "designspace", *command]
    return subprocess.Popen(cmd, env=env or cli_env(), stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(condition, timeout, what, proc=None, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value is not None and value is not False:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"driver exited ({proc.returncode}) while waiting for {what}:\n{out[-3000:]}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def mid_training(run_dir):
    """A wait_for condition: the model in run_dir has started and checkpointed an epoch but not finished."""
    def check():
        first = starts(run_dir)
        return first if (first and (run_dir / "checkpoint.pt").exists()
                         and not (run_dir / "result.json").exists()) else None
    return check
