"""The README's SQL examples marked `<!-- sql -->` run against what `make run` builds: the bundled
sample mined with the shipped models (in process), each statement through `litmine sql`, each
answering at least one row. Mark a ```console block by putting `<!-- sql -->` on the line above
it; its `$ .venv/bin/litmine sql "..."` lines are the statements."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- sql -->"
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"


def marked_statements(text: str) -> list[str]:
    """The SQL of every `litmine sql` command in the console blocks right after MARK."""
    out = []
    for block in re.findall(re.escape(MARK) + r"\s*\n```console\n(.*?)\n```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ ") and " sql " in line:
                args = shlex.split(line[2:])
                out.append(args[args.index("sql") + 1])
    return out


STATEMENTS = marked_statements((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_marks_the_relation_queries():
    assert len(STATEMENTS) >= 3
    assert all("relations" in s for s in STATEMENTS)


@pytest.fixture(scope="module")
def made(tmp_path_factory, prefect_harness):
    """The database `make run` builds: the bundled sample with every default."""
    from litmine.flows.mine import mine

    db = tmp_path_factory.mktemp("make-run") / "litmine.duckdb"
    mine(files=[str(SAMPLE)], db=str(db), device="cpu")
    return db


@pytest.mark.parametrize("statement", STATEMENTS)
def test_readme_sql_answers_on_the_mined_sample(statement, made, run_litmine):
    code, out, err = run_litmine("sql", "--db", str(made), "--format", "csv", statement)
    assert code == 0, err
    assert len(out.strip().splitlines()) >= 2, f"no rows for: {statement}\n{out}"
