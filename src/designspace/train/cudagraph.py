"""The whole training step captured once in a CUDA graph, replayed every iteration.

    step = GraphedTrainStep(model, optimizer, loader, lr_table, criterion, amp=True)
    step.capture()                                # one-time cost: warm-up + capture (printed by the benchmark)
    step.start_epoch(loader.order(epoch), first_step)
    for _ in range(len(loader)): step.replay()
    loss_sum, correct = step.epoch_totals()

Small models are launch-bound on a GPU: the step's hundreds of kernel launches
cost more than the arithmetic. Inside the graph are: picking the batch from the
epoch order (a device counter), the on-device crop and flip (graph-safe
default generator), forward, backward, the SGD update with the lr read from a
device table at a device step counter, and the loss/accuracy sums. Shapes are
static because the training loader drops the ragged tail. CUDA only; in-memory data only.
"""
from __future__ import annotations

import torch

from .device import autocast


class GraphedTrainStep:
    def __init__(self, model, optimizer, loader, lr_table: torch.Tensor, criterion, amp: bool = True,
                 ema=None, warmup_iterations: int = 3):
        self.model, self.optimizer, self.loader, self.criterion = model, optimizer, loader, criterion
        self.lr_table, self.amp, self.ema, self.warmup_iterations = lr_table, amp, ema, warmup_iterations
        device = loader.device
        self.device = device
        batch = loader.batch_size
        self.order = torch.zeros(max(1, loader.steps) * batch, dtype=torch.long, device=device)
        self.offsets = torch.arange(batch, device=device)
        self.position = torch.zeros((), dtype=torch.long, device=device)  # step within the epoch
        self.global_step = torch.zeros(1, dtype=torch.long, device=device)  # index into lr_table
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.graph = None

    def _step(self):
        indices = self.order.index_select(0, self.position * self.loader.batch_size + self.offsets)
        x, y = self.loader.batch(indices, None)
        with autocast(self.device, self.amp):
            out = self.model(x)
            loss = self.criterion(out, y)
        loss.backward()
        self.optimizer.step(self.lr_table.index_select(0, self.global_step).squeeze(0))
        if self.ema is not None:
            self.ema.update(self.model)
        with torch.no_grad():
            self.loss_sum.add_(loss.detach().float())
            self.correct.add_((out.argmax(1) == y).sum())
            self.position.add_(1)
            self.global_step.add_(1)

    def _state_tensors(self):
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        tensors += [b for bufs in self.optimizer.buffers for b in bufs]
        if self.ema is not None:
            tensors += list(self.ema.module.parameters()) + list(self.ema.module.buffers())
        return tensors + [self.position, self.global_step, self.loss_sum, self.correct]

    def capture(self) -> None:
        """Warm up on a side stream (autotuning, allocator), capture, and undo the warm-up's effect on the state."""
        state = self._state_tensors()
        snapshot = [t.detach().clone() for t in state]
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(self.warmup_iterations):
                self.optimizer.zero_grad()
                self.position.zero_()
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.optimizer.zero_grad()
        self.position.zero_()
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: a DataLoader pin-memory thread elsewhere in the process must not invalidate the capture
        # An explicit stream on self.device: torch's default capture stream lives on whichever device
        # was current when it was first made.
        with torch.cuda.device(self.device), torch.cuda.graph(self.graph, stream=torch.cuda.Stream(self.device),
                                                              capture_error_mode="thread_local"):
            self._step()
        with torch.no_grad():
            for tensor, saved in zip(state, snapshot):
                tensor.copy_(saved)
        torch.cuda.synchronize(self.device)

    def start_epoch(self, order: torch.Tensor, first_step: int) -> None:
        used = self.order.numel()
        self.order.copy_(order[:used])
        self.position.zero_()
        self.global_step.fill_(first_step)
        self.loss_sum.zero_()
        self.correct.zero_()

    def replay(self) -> None:
        """One training step: the captured graph, or the same ops run eagerly before/without capture (CPU)."""
        if self.graph is None:
            self.optimizer.zero_grad()
            self._step()
        else:
            self.graph.replay()

    def epoch_totals(self):
        """(sum of per-step mean losses, correct predictions) so far this epoch: host sync."""
        return float(self.loss_sum), int(self.correct)
