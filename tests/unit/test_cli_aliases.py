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


def all_commands():
    """(`litmine ...` path, click command) of the app, its groups and every command in them."""
    found = []

    def walk(command, path):
        found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_option_has_help_text():
    missing = [f"litmine {' '.join(path)} {param.opts[0]}" for path, command in all_commands()
               for param in command.params
               if param.param_type_name == "option" and not param.help]
    assert missing == []


@pytest.mark.parametrize("path", [path for path, _ in all_commands()],
                         ids=lambda path: " ".join(path) or "litmine")
def test_help_shows_no_value_for_flags_and_arguments_in_capitals(path):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output  # --help, --refetch, --relations/--no-relations take none
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert "{" not in usage and usage.split("Usage:")[1].split()[0] == "litmine"


def test_sql_usage_names_its_argument_in_capitals():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["sql", "--help"], env={"COLUMNS": "200"})
    assert "litmine sql [OPTIONS] STATEMENT" in result.output


def test_version_is_the_installed_packages():
    from importlib.metadata import version

    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"litmine {version('litmine')}"
