"""Progress reporting: a tqdm bar on a terminal, one plain line per epoch otherwise, or nothing.

    progress = make_progress(None)      # auto: bar if stderr is a TTY and tqdm is installed
"""
from __future__ import annotations

import sys


def format_epoch(record: dict, epochs: int) -> str:
    tested = (f"  test_err {record['test_error']:.2f}%  top5_err {record['test_top5_error']:.2f}%"
              if "test_error" in record else "  (not tested)")
    return (f"epoch {record['epoch']}/{epochs}  loss {record['train_loss']:.4f}  train_err {record['train_error']:.2f}%"
            f"{tested}  lr {record['lr']:.4g}"
            f"  {record['images_per_sec']:.0f} img/s  {record['wall_time']:.1f}s  mem {record['peak_mem_mb']:.0f}MB")


class Progress:
    """Plain log lines on stderr."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def log(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        pass

    def advance(self, steps: int = 1, loss: float | None = None) -> None:
        pass

    def end_epoch(self, record: dict, epochs: int) -> None:
        self.log(format_epoch(record, epochs))

    def close(self) -> None:
        pass


class BarProgress(Progress):
    """A tqdm bar per epoch; the epoch summary is printed above it."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self.bar = None

    def start_epoch(self, epoch, epochs, steps):
        from tqdm import tqdm

        self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", file=self.stream, leave=False, dynamic_ncols=True)

    def advance(self, steps=1, loss=None):
        if self.bar is not None:
            self.bar.update(steps)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end_epoch(self, record, epochs):
        self.close()
        self.log(format_epoch(record, epochs))

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Silent(Progress):
    def log(self, text):
        pass

    def end_epoch(self, record, epochs):
        pass


def make_progress(progress) -> Progress:
    """None: bar on a TTY (tqdm if installed), lines otherwise; False: silent; True: lines; or a Progress."""
    if isinstance(progress, Progress):
        return progress
    if progress is False:
        return Silent()
    if progress is None and sys.stderr.isatty():
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return Progress()
        return BarProgress()
    return Progress()
