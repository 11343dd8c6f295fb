"""CLI aliases are one more name for the same command, with `--task` preset, and every option the
alias took before it became one still works."""

from __future__ import annotations

import pytest
import typer

from litmine.cli import app

#: alias -> (command, preset task, the options the alias had as a command of its own)
ALIASES = {
    "train-relations": ("train", "relations", {
        "--train", "--dev", "--out", "-o", "--method", "--mesh-tree", "--base-model", "--epochs",
        "--batch-size", "--max-length", "--lr", "--max-train-docs", "--max-dev-docs", "--exclude",
        "--device"}),
    "train-classifier": ("train", "classify", {
        "--db", "--out", "-o", "--base-model", "--epochs", "--lr", "--batch-size", "--max-length",
        "--test-fraction", "--seed", "--limit", "--device"}),
    "evaluate-classifier": ("evaluate", "classify", {
        "--db", "--model", "-m", "--nli-model", "--embed-model", "--test-fraction", "--seed",
        "--json", "--device"}),
}


def registered(name: str):
    return next(c for c in app.registered_commands if c.name == name)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_alias_is_the_same_command_with_the_task_preset(alias):
    command, task, options = ALIASES[alias]
    assert registered(alias).callback is registered(command).callback
    click_command = typer.main.get_command(app).commands[alias]
    assert click_command.context_settings["default_map"] == {"task": task}
    taken = {opt for param in click_command.params for opt in param.opts}
    assert options <= taken, f"{alias} lost {sorted(options - taken)}"


def test_no_command_is_registered_twice_under_one_name():
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert len(names) == len(set(names))
