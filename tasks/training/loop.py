"""The one fine-tuning loop: epochs of optimiser steps, with callbacks for everything around them.

`fit` runs `epochs` epochs; each asks the caller for its batches (the caller owns the data
order and its seeded RNG), runs one optimiser step per batch (forward under autocast when mixed
precision is on, backward through a GradScaler for fp16, gradient clipping, optimiser and
scheduler steps) and then calls the callbacks: `Evaluate` (score the epoch, track the best),
`KeepBestState` or `Checkpoint` (keep the best epoch's weights), `EarlyStopping` (stop after
`patience` epochs without gain), `Progress` (a tqdm bar per epoch). Trainers build the model,
optimiser and scheduler (`seed_everything` first, so weights initialise the same every run),
and write their files after `fit` returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from litmine.errors import LitmineError

log = logging.getLogger(__name__)

#: Sentences per length-sorted "mega-batch" (as in transformers' LengthGroupedSampler, which
#: uses 50 batches): batches hold similar lengths, yet their order stays random.
MEGABATCH_BATCHES = 50


# -- set-up helpers ------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (call before building the model)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cpu_threads() -> int:
    """CPU cores this process may use (cgroup/affinity aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def use_all_cores(device: torch.device) -> None:
    """On the CPU, let torch use every core this process may use."""
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads())


def group_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of example indexes with similar lengths, in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * MEGABATCH_BATCHES
    batches = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i:i + mega], key=lambda k: -lengths[k])
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: no weight decay on biases and LayerNorm weights (Devlin et al.
    2019's BERT recipe)."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def publish_model_dir(finished: Path, out_dir: Path) -> None:
    """Put a completely written model directory at `out_dir`, replacing what was there."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    finished.rename(out_dir)


def publish_with_record(staging: Path, out_dir: Path, result: dict, write_card,
                        command_line: str | None = None) -> dict:
    """Write `result` as training.json and its card (`write_card(path, result, command_line)`)
    into `staging`, publish it at `out_dir` (`publish_model_dir`) and return `result` with
    "out_dir"."""
    import json

    (staging / "training.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    write_card(staging, result, command_line)
    publish_model_dir(staging, out_dir)
    result["out_dir"] = str(out_dir)
    return result


# -- the loop ------------------------------------------------------------------------------------
@dataclass
class LoopState:
    """Where a `fit` run stands; callbacks read it and may set `stop`."""

    model: torch.nn.Module
    epochs: int
    epoch: int = 0
    steps: int = 0  # optimiser steps in this epoch so far
    loss_sum: float = 0.0  # sum of step loss x weight in this epoch
    weight_sum: float = 0.0
    epoch_started: float = 0.0  # time.time() when the epoch began
    train_seconds: float = 0.0  # this epoch's training steps
    record: Any = None  # what Evaluate made of this epoch
    history: list[Any] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None
    best_record: Any = None
    improved: bool = False  # this epoch scored better than every earlier one
    stop: bool = False

    @property
    def loss(self) -> float:
        """The epoch's training loss: the weighted mean over its steps so far."""
        return self.loss_sum / max(1, self.weight_sum)


class Callback:
    """A hook into `fit`; override what you need."""

    def on_epoch_start(self, state: LoopState, batches: Sequence[Any]) -> None: ...
    def on_step_end(self, state: LoopState, loss: float) -> None: ...
    def on_epoch_end(self, state: LoopState) -> None: ...
    def on_fit_end(self, state: LoopState) -> None: ...


class Evaluate(Callback):
    """After each epoch: `make_record(state)` (e.g. dev scores) becomes the epoch's record.

    With `score`, the epoch with the highest score is the best (ties keep the earlier one).
    """

    def __init__(self, make_record: Callable[[LoopState], Any],
                 score: Callable[[Any], float] | None = None):
        self.make_record, self.score = make_record, score

    def on_epoch_end(self, state: LoopState) -> None:
        state.record = self.make_record(state)
        state.history.append(state.record)
        state.improved = False
        if self.score is not None:
            value = self.score(state.record)
            if state.best_score is None or value > state.best_score:
                state.best_score, state.best_epoch, state.best_record = (value, state.epoch,
                                                                         state.record)
                state.improved = True


class KeepBestState(Callback):
    """Keep a CPU copy of the best epoch's weights and load them back when `fit` ends."""

    def __init__(self):
        self.state: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, state: LoopState) -> None:
        if state.improved:
            self.state = {k: v.detach().to("cpu", copy=True)
                          for k, v in state.model.state_dict().items()}

    def on_fit_end(self, state: LoopState) -> None:
        if self.state is not None:
            state.model.load_state_dict(self.state)


class Checkpoint(Callback):
    """Call `save(state)` whenever an epoch is the best so far (e.g. write it to a directory)."""

    def __init__(self, save: Callable[[LoopState], None]):
        self.save = save

    def on_epoch_end(self, state: LoopState) -> None:
        if state.improved:
            self.save(state)


class EarlyStopping(Callback):
    """Stop once `patience` epochs in a row brought no gain over the best epoch."""

    def __init__(self, patience: int, message: str | None = None):
        self.patience, self.message = patience, message

    def on_epoch_end(self, state: LoopState) -> None:
        waited = state.epoch - state.best_epoch
        if not state.improved and waited >= self.patience:
            if self.message:
                log.info(self.message, waited, state.best_epoch)
            state.stop = True


class Progress(Callback):
    """A tqdm bar per epoch on stderr, showing the running training loss."""

    def __init__(self, enabled: bool = True, unit: str = "batch", show_loss: bool = True):
        self.enabled, self.unit, self.show_loss = enabled, unit, show_loss
        self.bar = None

    def on_epoch_start(self, state: LoopState, batches: Sequence[Any]) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=len(batches), desc=f"epoch {state.epoch}/{state.epochs}",
                        disable=not self.enabled, unit=self.unit, file=sys.stderr)

    def on_step_end(self, state: LoopState, loss: float) -> None:
        if self.show_loss:
            self.bar.set_postfix(loss=f"{state.loss:.4f}", refresh=False)
        self.bar.update()

    def on_epoch_end(self, state: LoopState) -> None:
        self.bar.close()


#: `--precision`: auto (bf16 autocast where the CPU has bf16 units; mixed on CUDA) or fp32.
PRECISIONS = ("auto", "fp32")


def mixed_precision_of(precision: str, stage: str) -> str | bool:
    """`fit`'s `mixed_precision` for a `--precision` value (auto: "bf16-cpu", fp32: False);
    LitmineError naming the choices for any other."""
    if precision not in PRECISIONS:
        raise LitmineError(f"{stage}: precision must be one of {PRECISIONS}, got {precision!r}")
    return "bf16-cpu" if precision == "auto" else False


def autocast_for(device: torch.device, mixed_precision: bool | str
                 ) -> tuple[contextlib.AbstractContextManager, torch.dtype | None]:
    """The autocast context for a training step and its dtype (None: full precision).

    Mixed precision runs on CUDA: bfloat16 where the GPU has it, else float16 (which needs
    a GradScaler); `mixed_precision="bf16"` asks for bfloat16 always. `"bf16-cpu"` also runs
    bfloat16 autocast on a CPU with bf16 matrix units (AMX, AVX512-BF16;
    `litmine.tasks.cpu_features`), full precision on other CPUs.
    """
    if mixed_precision == "bf16-cpu" and device.type == "cpu":
        from litmine.tasks.cpu_features import default_cpu_dtype

        if default_cpu_dtype() == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16), torch.bfloat16
        return contextlib.nullcontext(), None
    if not mixed_precision or device.type != "cuda":
        return contextlib.nullcontext(), None
    if mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16), torch.bfloat16
    return torch.autocast("cuda", dtype=torch.float16), torch.float16


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, *,
        epochs: int, batches: Callable[[int], Sequence[Any]],
        loss: Callable[[Any], torch.Tensor], device: torch.device,
        weight: Callable[[Any], float] | None = None,
        micro_batches: Callable[[Any], Iterable[Any]] | None = None,
        grad_clip: float | None = 1.0, mixed_precision: bool | str = False,
        callbacks: Sequence[Callback] = ()) -> LoopState:
    """Train `model` for up to `epochs` epochs and return the final `LoopState`.

    `batches(epoch)` gives the epoch's batches in order; `loss(batch)` runs the forward pass
    and returns the loss to minimise. One optimiser step per batch: zero the gradients,
    back-propagate (through each of `micro_batches(batch)` in turn when given: gradient
    accumulation, one backward per part), clip to `grad_clip`, step the optimiser and the
    scheduler. The epoch's loss is the mean of the step losses weighted by `weight(batch)`
    (default 1 per step). Callbacks run in the order given.
    """
    autocast, amp_dtype = autocast_for(device, mixed_precision)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    state = LoopState(model=model, epochs=epochs)
    for epoch in range(1, epochs + 1):
        state.epoch, state.steps, state.loss_sum, state.weight_sum = epoch, 0, 0.0, 0.0
        state.epoch_started, state.record = time.time(), None
        model.train()
        epoch_batches = batches(epoch)
        for callback in callbacks:
            callback.on_epoch_start(state, epoch_batches)
        for batch in epoch_batches:
            optimizer.zero_grad(set_to_none=True)
            value = 0.0
            for part in (micro_batches(batch) if micro_batches else (batch,)):
                with autocast:
                    part_loss = loss(part)
                if scaler is not None:
                    scaler.scale(part_loss).backward()
                else:
                    part_loss.backward()
                value += part_loss.item()
            if scaler is not None:
                scaler.unscale_(optimizer)
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            w = weight(batch) if weight else 1
            state.steps += 1
            state.loss_sum += value * w
            state.weight_sum += w
            for callback in callbacks:
                callback.on_step_end(state, value)
        state.train_seconds = time.time() - state.epoch_started
        model.eval()
        for callback in callbacks:
            callback.on_epoch_end(state)
        if state.stop:
            break
    for callback in callbacks:
        callback.on_fit_end(state)
    return state
