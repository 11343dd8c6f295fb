"""`pip install litmine` outside the checkout (issue 20): `make dist` builds litmine's wheel and one
per model of data/models; pip installs them (no index, no network) into a new virtual environment
outside the checkout, which reuses this environment's dependencies through a .pth file; from
another directory its `litmine models` lists the packaged models and `litmine mine --files` mines
five records of the bundled sample with the models it finds there, by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from litmine.model_packages import folder_entries, model_name
from litmine.tasks.model_info import describe_model
from litmine.tasks.records import Article
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.text.sentences import split_article

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "data" / "models"
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
SHIPPED = {model_name(p): p for p in folder_entries(MODELS)}
TYPED = "litmine-relations-biored-minilm-l6"  # lands later; until then mine runs without it
RECORDS = 5


def run(command: list[str], env: dict | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, text=True, capture_output=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory, prefect_harness):
    """(environment with litmine and every model installed from wheels, its env, a work folder)."""
    from prefect.settings import PREFECT_API_URL

    if shutil.which("make") is None:
        pytest.fail("`make dist` needs GNU make")
    root = tmp_path_factory.mktemp("wheels")
    assert ROOT not in root.parents, "the environment must live outside the checkout"
    bin_dir = Path(sys.executable).parent
    # `make dist`, with this environment's python and litmine (-o install: it exists already).
    run(["make", "-s", "-o", "install", "dist", f"DIST={root / 'dist'}", f"BIN={bin_dir}"], cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("LITMINE_")})
    wheels = sorted(root.glob("dist/*.whl"))
    target = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(target)])
    python = target / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", *map(str, wheels)])
    # Only after the install (so pip sees none of them): this environment's packages as the
    # dependencies, plain folders on sys.path (their own .pth files, e.g. an editable litmine's,
    # are not run).
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    deps = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (purelib / "litmine-deps.pth").write_text("".join(f"{p}\n" for p in deps))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LITMINE_", "NCBI_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), HF_HUB_OFFLINE="1", COLUMNS="200",
               LITMINE_EUTILS_URL="http://127.0.0.1:9/")  # no network
    work = root / "work"
    work.mkdir()
    return {"bin": target / "bin", "purelib": purelib, "env": env, "work": work,
            "wheels": [w.name for w in wheels]}


def test_make_dist_builds_litmine_and_a_wheel_per_model(venv):
    assert venv["wheels"] == sorted(["litmine-0.1.0-py3-none-any.whl",
                                     *(f"{n.replace('-', '_')}-0.1.0-py3-none-any.whl" for n in SHIPPED)])


def test_the_installed_litmine_lists_the_packaged_models_with_their_scores(venv):
    where = run([str(venv["bin"] / "python"), "-c", "import litmine; print(litmine.__file__)"],
                env=venv["env"], cwd=venv["work"])
    assert Path(where.strip()).parent == venv["purelib"] / "litmine"
    listed = json.loads(run([str(venv["bin"] / "litmine"), "models", "--format", "json"],
                            env=venv["env"], cwd=venv["work"]))
    assert [row["name"] for row in listed] == sorted(SHIPPED)
    for row in listed:
        assert (row["source"], row["version"], row["distribution"]) == ("package", "0.1.0", row["name"])
        assert Path(row["path"]).parent == venv["purelib"] / "litmine_models"
        checkout = describe_model(SHIPPED[row["name"]])
        assert row["scores"] == [{"name": s.name, "value": round(s.value, 2), "data": s.data}
                                 for s in checkout.scores]
        assert row["size"] == checkout.size
    path = run([str(venv["bin"] / "litmine"), "models", "path", "litmine-ner-six-minilm-l6"],
               env=venv["env"], cwd=venv["work"])
    assert path == f"{venv['purelib'] / 'litmine_models' / 'litmine-ner-six-minilm-l6'}\n"


def test_the_installed_litmine_mines_the_sample_from_another_directory(venv):
    from litmine.tasks.loading import fingerprint_model

    args = ["mine", "--files", str(SAMPLE), "--max-results", str(RECORDS), "--db", "mined.duckdb",
            "--no-progress", "--device", "cpu"]
    if TYPED not in SHIPPED:
        args += ["--typed-relation-model", ""]
    run([str(venv["bin"] / "litmine"), *args], env=venv["env"], cwd=venv["work"])

    articles = [a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)][:RECORDS]
    con = duckdb.connect(str(venv["work"] / "mined.duckdb"), read_only=True)
    try:
        assert sorted(r[0] for r in con.execute("SELECT pmid FROM articles").fetchall()) == \
            sorted(a.pmid for a in articles)
        assert con.execute("SELECT count(*) FROM sentences").fetchone()[0] == \
            sum(len(split_article(a)) for a in articles)
        entities, linked = con.execute("SELECT count(*), count(concept_id) FROM entities").fetchone()
        assert entities > 0 and linked > 0
        model, parameters = con.execute("SELECT model, parameters FROM runs").fetchone()
    finally:
        con.close()
    parameters = json.loads(parameters)
    # The NER model travels by name; its files are the checkout's, byte for byte.
    assert model == "litmine-ner-six-v2-minilm-l6"
    assert parameters["model_id"] == f"{model}@{fingerprint_model(str(MODELS / model))}"
    installed = venv["purelib"] / "litmine_models"
    assert parameters["lexicon"] == str(installed / "litmine-lexicon-mesh.tsv.gz")
    assert parameters["relation_model"] == str(installed / "litmine-cid-bc5cdr")
