"""The README's shell commands marked `<!-- test -->` run from a fresh clone: no network, no
../shared, only what the repository ships (data/corpora/, data/models/). Each runs in a temporary
directory that holds the clone's .venv, data and benchmarks (so outputs such as scores.json land
there) and must exit 0. Mark a ```console block by putting `<!-- test -->` on the line above it;
keep marked commands cheap (the whole file runs in about a minute on 2 cores)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- test -->"


def marked_commands(text: str) -> list[str]:
    """The `$ ` commands (continuation lines joined) of the console blocks right after MARK."""
    commands: list[str] = []
    for block in re.findall(re.escape(MARK) + r"\s*\n```console\n(.*?)\n```", text, re.S):
        current: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                current = [line[2:]]
            elif current:
                current.append(line.strip())
            else:
                continue
            if not current[-1].endswith("\\"):
                commands.append(" ".join(part.rstrip("\\").strip() for part in current))
                current = []
    return commands


COMMANDS = marked_commands((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_marks_commands_that_need_no_shared_data():
    assert len(COMMANDS) >= 2
    assert all("../shared" not in c and "--query" not in c for c in COMMANDS), COMMANDS


def test_marked_commands_are_parsed_with_their_continuations():
    text = f"{MARK}\n```console\n$ a \\\n    --b c\nout\n$ d\n```\n```console\n$ not marked\n```\n"
    assert marked_commands(text) == ["a --b c", "d"]


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_offline(command, tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    for name in (".venv", "data", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "NCBI_"))}
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT), LITMINE_EUTILS_URL="http://127.0.0.1:9/")  # no network
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, text=True,
                            capture_output=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip()
