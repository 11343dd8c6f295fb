"""BioRED typed relations end to end: `litmine train --task relations --method typed` on a tiny
encoder (a real flow run), the saved model loaded by path, and `mine` storing its relations in a
real DuckDB file (idempotent on a rerun)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRAIN = FIXTURES / "corpora" / "biored_relations_train.pubtator"
DEV = FIXTURES / "corpora" / "biored_relations_dev.pubtator"


@pytest.fixture(scope="module")
def typed_model(tmp_path_factory, prefect_harness):
    """A typed relation model trained by the CLI (tiny random encoder, one epoch)."""
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL
    from tests.conftest import build_tiny_bert

    root = tmp_path_factory.mktemp("typed")
    base = build_tiny_bert(root / "tiny", max_position_embeddings=512)
    out = root / "biored"
    done = subprocess.run(
        [sys.executable, "-m", "litmine.cli", "train", "--task", "relations", "--method",
         "typed", "--train", str(TRAIN), "--dev", str(DEV), "--base-model", str(base),
         "--epochs", "1", "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "PREFECT_API_URL": PREFECT_API_URL.value()})
    assert done.returncode == 0, done.stderr
    assert f"saved {out}" in done.stdout
    return out


def test_training_saves_the_model_its_record_and_card(typed_model):
    config = json.loads((typed_model / "docre.json").read_text())
    assert config["kind"] == "typed" and config["classes"][0] == "none"
    assert len(config["classes"]) == 9 and config["entity_types"] == ["Chemical", "Disease",
                                                                       "Gene", "Variant"]
    record = json.loads((typed_model / "training.json").read_text())
    # 14 training documents: every 6th held out (3), 11 fit; the 4 dev documents only scored
    assert record["data"]["held_out_documents"] == 3 and record["data"]["fit_documents"] == 11
    assert len(record["data"]["held_out_pmids"]) == 3
    assert record["data"]["dev_documents"] == 4 and record["data"]["dev_relations"] == 18
    assert set(record["dev_gold_entities"]) == {"pair", "pair+type", "pair+type+novelty"}
    assert record["threshold"] == config["threshold"]
    assert record["novelty_threshold"] == config["novelty_threshold"] and (
        0 < config["novelty_threshold"] < 1)
    card = (typed_model / "README.md").read_text()
    assert "litmine train --task relations --method typed" in card and "| pair+type |" in card


def test_the_model_predicts_typed_pairs_of_a_gold_document(typed_model):
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.typed import PAIR_TYPES, RELATION_TYPES
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator

    model = load_typed_model(typed_model)
    assert load_typed_model(typed_model) is model  # cached per process
    doc = read_pubtator(DEV)[0][0]
    mentions = canonical_mentions(doc)
    scored = model.probabilities(doc.text, mentions)
    assert scored and all(abs(sum(p) - 1) < 1e-4 and 0 <= n <= 1 for _, _, p, n in scored)
    assert all((a[0], b[0]) in PAIR_TYPES for a, b, _, _ in scored)
    everything = model.predict_document(doc.text, mentions, threshold=0.0)
    assert len(everything) == len(scored)
    assert {r.relation for r in everything} <= set(RELATION_TYPES)
    assert {r.novel for r in everything} <= {"Novel", "No"}
    assert model.predict_document(doc.text, mentions, threshold=1.01) == []


def test_a_model_of_another_kind_is_refused_with_the_fix(tmp_path, typed_model):
    from litmine.errors import ModelError
    from litmine.tasks.relations.typed import TypedRelationModel

    other = tmp_path / "other"
    shutil.copytree(typed_model, other)
    config = json.loads((other / "docre.json").read_text())
    (other / "docre.json").write_text(json.dumps(config | {"kind": "document"}))
    with pytest.raises(ModelError, match="not a BioRED typed relation model.*--method typed"):
        TypedRelationModel(other)


def test_mine_stores_typed_relations_once_per_pair_and_a_rerun_replaces_them(
        typed_model, tmp_path, prefect_harness):
    """The shipped NER model and lexicon, the tiny typed model with its threshold at 0 (every
    candidate pair is a relation): rows carry run and model, evidence quotes the sentences."""
    from litmine.flows.mine import mine
    from litmine.tasks.relations.typed import ENTITY_TYPES, PAIR_TYPES, RELATION_TYPES

    everything = tmp_path / "typed-all"
    shutil.copytree(typed_model, everything)
    config = json.loads((everything / "docre.json").read_text())
    (everything / "docre.json").write_text(json.dumps(config | {"threshold": 0.0}))
    db = tmp_path / "typed.duckdb"
    result = mine(files=[str(DEV)], db=str(db), device="cpu",
                  typed_relation_model=str(everything))
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT pmid, type1, id1, name1, type2, id2, name2, relation, novel, "
                           "score, sentence_indexes, evidence, model, relation_model, run_id "
                           "FROM relations").fetchall()
        linked = con.execute("SELECT pmid, type, concept_id FROM entities WHERE concept_id IS "
                             "NOT NULL").fetchall()
        sentences = {(p, i): t for p, i, t in con.execute(
            "SELECT pmid, sentence_index, text FROM sentences").fetchall()}
        parameters = json.loads(con.execute("SELECT parameters FROM runs").fetchone()[0])
    assert result["typed_relations"] == len(rows) > 0
    assert parameters["typed_relation_model"] == str(everything)
    # the relation models run in the NER dtype on CPUs with bf16 units (bf16); on others NER
    # runs fp32 and the shared relation heads int8
    assert (parameters["dtype"], parameters["relation_dtype"]) in (("bf16", "bf16"),
                                                                    ("fp32", "int8"))
    keys = set()
    for (pmid, t1, id1, name1, t2, id2, name2, relation, novel, score, indexes, evidence,
         model, relation_model, run_id) in rows:
        assert (t1, t2) in PAIR_TYPES and {t1, t2} <= set(ENTITY_TYPES)
        assert relation in RELATION_TYPES and novel in ("Novel", "No") and 0 <= score <= 1
        assert name1 and name2 and run_id == result["run_id"] and relation_model == config["name"] == "biored"
        assert model == result["model"]
        ids = {i for p, t, c in linked if p == pmid for i in c.replace(",", "|").split("|")}
        assert {id1, id2} <= ids or "Variant" in (t1, t2)
        assert list(evidence) == [sentences[(pmid, i)] for i in indexes[:3]]
        keys.add((pmid, t1, id1, t2, id2))
    assert len(keys) == len(rows)  # one row per pair
    # export: BioRED's five-column relation lines in PubTator, a "novel" infon in BioC
    import io

    from litmine.tasks.sources.pubtator import read_pubtator
    from litmine.tasks.store.query import export_documents

    out = io.StringIO()
    export_documents(db, out, "pubtator", model=result["model"])
    exported, _ = read_pubtator(io.StringIO(out.getvalue()))
    typed_lines = {(d.pmid, t, a, b, d.novel(k)) for d in exported
                   for k, (t, a, b) in enumerate(d.relations) if t != "CID"}
    assert typed_lines == {(r[0], r[7], r[2], r[5], r[8]) for r in rows}
    bioc = io.StringIO()
    export_documents(db, bioc, "bioc-json", model=result["model"])
    relations = [r for d in json.loads(bioc.getvalue())["documents"] for r in d["relations"]
                 if r["infons"]["type"] != "CID"]
    assert len(relations) == len(rows) and all(r["infons"]["novel"] in ("Novel", "No")
                                               for r in relations)
    again = mine(files=[str(DEV)], db=str(db), device="cpu", typed_relation_model=str(everything))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM relations").fetchone()[0] == len(rows)
        assert con.execute("SELECT DISTINCT run_id FROM relations").fetchall() == [
            (again["run_id"],)]
    # '' skips the step: the PMIDs' typed relations go with the rest of their rows
    mine(files=[str(DEV)], db=str(db), device="cpu", typed_relation_model="")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM relations").fetchone()[0] == 0


def test_bf16_weights_keep_the_typed_decisions_of_fp32(typed_model):
    """The encoder in bf16 (what `mine` runs on a CPU with bf16 units), pooling and head in
    fp32: probabilities move by rounding only; relation or not, its type and its novelty stay
    wherever fp32 does not decide within rounding."""
    from litmine.tasks.relations.typed import TypedRelationModel
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator

    fp32 = TypedRelationModel(typed_model, dtype="fp32")
    bf16 = TypedRelationModel(typed_model, dtype="bf16")
    assert (fp32.dtype, bf16.dtype) == ("fp32", "bf16")
    margin, decided = 0.005, {"relation": 0, "type": 0, "novelty": 0}
    for doc in read_pubtator(DEV)[0]:
        a = fp32.probabilities(doc.text, canonical_mentions(doc))
        b = bf16.probabilities(doc.text, canonical_mentions(doc))
        assert [(x, y) for x, y, _, _ in a] == [(x, y) for x, y, _, _ in b]
        for (_, _, p, n), (_, _, q, m) in zip(a, b):
            assert q == pytest.approx(p, abs=margin) and m == pytest.approx(n, abs=margin)
            if abs(1 - p[0] - fp32.threshold) > margin:
                decided["relation"] += 1
                assert (1 - p[0] >= fp32.threshold) == (1 - q[0] >= fp32.threshold)
            first, second = sorted(p[1:])[-2:][::-1]
            if first - second > margin:
                decided["type"] += 1
                assert p.index(first) == q.index(max(q[1:]))
            if abs(n - fp32.novelty_threshold) > margin:
                decided["novelty"] += 1
                assert (n >= fp32.novelty_threshold) == (m >= fp32.novelty_threshold)
    assert min(decided.values()) >= 10, decided


def test_documents_related_on_two_workers_give_what_one_gives(typed_model, tmp_path):
    """`relate_articles` relates documents on several threads (one torch thread each): the
    rows are those of one worker, in the same order (documents share nothing but caches)."""
    from litmine.settings import DEFAULT_LEXICON
    from litmine.tasks.cpu_workers import single_threaded_ops
    from litmine.tasks.linking.normalise import load_linker
    from litmine.tasks.relations.relate import relate_articles
    from litmine.tasks.relations.typed import TypedRelationModel
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator
    from litmine.tasks.text.sentences import split_article

    everything = tmp_path / "typed-all"
    shutil.copytree(typed_model, everything)
    config = json.loads((everything / "docre.json").read_text())
    (everything / "docre.json").write_text(json.dumps(config | {"threshold": 0.0}))
    model = TypedRelationModel(everything, dtype="bf16")
    docs = read_pubtator(DEV)[0]
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    mentions = [m for d in docs for m in canonical_mentions(d)]
    linker = load_linker(DEFAULT_LEXICON)

    def relate(workers: int):
        return relate_articles(articles, sentences, mentions, linker=linker, typed_model=model,
                               fix_mentions=False, workers=workers)

    with single_threaded_ops():  # one worker, on one torch thread too: the same arithmetic
        one = relate(1)
    two = relate(2)
    assert len(one.typed_relations) > 10 and not one.failures
    assert len({r.pmid for r in one.typed_relations}) == len(docs)
    assert two.typed_relations == one.typed_relations and two.mentions == one.mentions


def test_evaluate_scores_typed_relations_in_every_setting(typed_model, tmp_path, prefect_harness):
    """`evaluate --relations` on BioRED gold: pair, pair+type and pair+type+novelty with gold IDs,
    gold entities and end to end, beside the CID and concept scores; scoring the export of a
    `mine` run with `--predicted` gives the end-to-end figures again."""
    import io

    from litmine.flows.evaluate import evaluate
    from litmine.flows.mine import mine
    from litmine.settings import get_settings
    from litmine.tasks.store.query import export_documents

    everything = tmp_path / "typed-all"
    shutil.copytree(typed_model, everything)
    config = json.loads((everything / "docre.json").read_text())
    (everything / "docre.json").write_text(json.dumps(config | {"threshold": 0.0}))
    listing = tmp_path / "errors.txt"
    report = evaluate(gold=[str(DEV)], model=get_settings().model, device="cpu", relations=True,
                      typed_relation_model=str(everything), show=False,
                      errors_out=str(listing))["relations"]
    levels = {"pair", "pair+type", "pair+type+novelty"}
    for setting in ("gold_ids", "gold_entities", "end_to_end"):
        typed = report[setting]["typed"]
        assert set(typed) == levels
        assert all(typed[k]["tp"] + typed[k]["fn"] == 18 for k in levels)  # the gold relations
        assert typed["pair"]["tp"] >= typed["pair+type"]["tp"] >= typed["pair+type+novelty"]["tp"]
    # threshold 0: with gold IDs every gold pair whose types BioRED relates is predicted
    assert report["gold_ids"]["typed"]["pair"]["recall"] == 1.0
    # per entity-type pair: the gold pairs add up; with gold IDs every one is reachable, with
    # predicted IDs no more than the pairs found
    for setting in ("gold_ids", "gold_entities", "end_to_end"):
        by_pair = report[setting]["typed_by_entity_pair"]
        assert sum(c["gold"] for c in by_pair.values()) == 18
        assert sum(c["pair"]["tp"] for c in by_pair.values()) == report[setting]["typed"]["pair"]["tp"]
        for c in by_pair.values():
            assert c["pair"]["tp"] <= c["reachable"] <= c["gold"]
    assert all(c["reachable"] == c["gold"]
               for c in report["gold_ids"]["typed_by_entity_pair"].values())
    # --errors: after the mention errors, each setting's relation errors and their causes
    text = listing.read_text(encoding="utf-8")
    for setting in ("gold_ids", "gold_entities", "end_to_end"):
        assert f"# BioRED relations, {setting}: " in text
        causes = Counter(e["error"] for e in report[setting]["typed_errors"])
        typed = report[setting]["typed"]
        assert causes["spurious"] == typed["pair"]["fp"]
        assert causes["unreachable"] + causes["missed"] == typed["pair"]["fn"]
        assert causes["type"] == typed["pair"]["tp"] - typed["pair+type"]["tp"]
        reach = sum(c["reachable"] for c in report[setting]["typed_by_entity_pair"].values())
        assert causes["unreachable"] == 18 - reach
    assert not any(e["error"] == "unreachable" for e in report["gold_ids"]["typed_errors"])
    assert "cid" in report["gold_ids"] and "concepts" in report["end_to_end"]

    db = tmp_path / "e2e.duckdb"
    mined = mine(files=[str(DEV)], db=str(db), device="cpu", typed_relation_model=str(everything))
    out = tmp_path / "predicted.pubtator"
    with open(out, "w", encoding="utf-8") as handle:
        export_documents(db, handle, "pubtator", model=mined["model"])
    files = evaluate(gold=[str(DEV)], predicted=[str(out)], relations=True,
                     show=False)["relations"]["predicted_files"]["typed"]
    assert files["pair"]["tp"] + files["pair"]["fp"] == mined["typed_relations"]
    assert files == report["end_to_end"]["typed"]
    assert (evaluate(gold=[str(DEV)], predicted=[str(out)], relations=True, show=False)
            ["relations"]["predicted_files"]["typed_by_entity_pair"]
            == report["end_to_end"]["typed_by_entity_pair"])


def test_the_novelty_threshold_of_a_saved_model_can_be_retuned(typed_model, tmp_path):
    """`retune_novelty` (for a model trained before novelty was tuned): the held-out split of
    training, the dev scores and the card are rewritten with the tuned threshold."""
    from litmine.tasks.relations.training.typed import NOVELTY_GRID, retune_novelty
    from litmine.tasks.relations.typed import TypedRelationModel

    copy = tmp_path / "copy"
    shutil.copytree(typed_model, copy)
    config = json.loads((copy / "docre.json").read_text())
    (copy / "docre.json").write_text(json.dumps({k: v for k, v in config.items()
                                                 if k != "novelty_threshold"}))
    assert TypedRelationModel(copy).novelty_threshold == 0.5  # models saved before: 0.5
    record = retune_novelty(copy, [TRAIN], [DEV], command_line="litmine train ...")
    assert record["novelty_threshold"] in NOVELTY_GRID
    assert TypedRelationModel(copy).novelty_threshold == record["novelty_threshold"]
    saved = json.loads((copy / "training.json").read_text())
    assert saved["dev_gold_entities"] == record["dev_gold_entities"]
    assert saved["dev_gold_entities"]["pair"]["tp"] + saved["dev_gold_entities"]["pair"]["fn"] == 18
    assert "litmine train ..." in (copy / "README.md").read_text()


def test_a_pair_typer_can_also_read_each_pairs_sentences():
    """`fit_pair_typer(evidence_weight=...)`: the type regression also reads each training
    relation's evidence embedded by the bundled sentence encoder, the novelty the words alone."""
    from litmine.tasks.relations.evidence import EVIDENCE_PREFIX, EVIDENCE_WEIGHT
    from litmine.tasks.relations.training.pair_types import fit_pair_typer, typing_accuracy
    from litmine.tasks.sources.pubtator import read_pubtator

    docs = read_pubtator(TRAIN)[0]
    typer, chosen = fit_pair_typer(docs, evidence_weight=EVIDENCE_WEIGHT, device="cpu")
    assert typer.evidence == chosen["evidence"] and typer.evidence["weight"] == EVIDENCE_WEIGHT
    assert any(name.startswith(EVIDENCE_PREFIX) for name in typer.weights)
    assert not any(name.startswith(EVIDENCE_PREFIX) for name in typer.novelty_weights)
    plain, _ = fit_pair_typer(docs)
    assert plain.evidence is None and not any(n.startswith(EVIDENCE_PREFIX) for n in plain.weights)
    scores = typing_accuracy(typer, read_pubtator(DEV)[0], docs)
    assert scores["pairs"] == 18 and 0 <= scores["type_accuracy"] <= 100


def test_a_pair_typer_trained_into_the_model_types_its_relations(typed_model, tmp_path,
                                                                  prefect_harness):
    """`--method pair-types` saves logistic regressions into the typed model: every pair the
    head scores is scored again from its words and the head's score, typed and given a novelty
    by the typer; the rows name it; retraining replaces it (and its card section)."""
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    from litmine.tasks.relations.pair_types import TYPER_FILE, pair_features, sentence_spans
    from litmine.tasks.relations.typed import TypedRelationModel, typed_spans
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator

    def train(out: Path, *more: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "litmine.cli", "train", "--task", "relations", "--method",
             "pair-types", "--train", str(TRAIN), "--dev", str(DEV), "--out", str(out),
             "--device", "cpu", *more],
            capture_output=True, text=True, timeout=600,
            env={**__import__("os").environ, "PREFECT_API_URL": PREFECT_API_URL.value()})

    copy = tmp_path / "typed"
    shutil.copytree(typed_model, copy)
    head = TypedRelationModel(copy)
    assert head.typer is None
    for _ in range(2):
        done = train(copy)
        assert done.returncode == 0, done.stderr
    bagged = json.loads((copy / "pair_types.json").read_text())["threshold"]
    # a threshold given (one chosen end to end on a dev set) replaces the bagged one
    given = round(bagged / 2, 3)
    done = train(copy, "--threshold", str(given))
    assert done.returncode == 0, done.stderr
    record = json.loads((copy / "pair_types.json").read_text())
    assert f"saved {copy} (threshold {record['threshold']:.3f})" in done.stdout
    assert record["threshold"] == given and record["params"]["threshold"] == given
    assert record["fit"]["relatedness"]["bagged_threshold"] == bagged
    assert f"a relation at {given} (given, `--threshold`" in (copy / "README.md").read_text()
    refused = train(copy, "--threshold", "1")
    assert refused.returncode != 0 and "--threshold 1.0 is no probability" in refused.stderr
    other = subprocess.run(
        [sys.executable, "-m", "litmine.cli", "train", "--task", "relations", "--method",
         "linear", "--train", str(TRAIN), "--dev", str(DEV), "--threshold", "0.3"],
        capture_output=True, text=True, timeout=120)
    assert other.returncode != 0 and "--threshold is for the method pair-types" in other.stderr
    # the same files and exclusions as the head's training: its own held-out documents
    check = record["held_out_check"]
    assert check["checked"] and check["matches"], check
    assert check["here"]["gold"] == check["recorded"]["gold"]
    assert record["fit"]["relations"] == 69 and record["data"]["dev_documents"] == 4
    # the head's own held-out documents, as its training.json lists them
    assert record["data"]["split"].startswith("the head's 3 held-out documents")
    assert record["data"]["held_out_documents"] == 3 and record["data"]["fit_documents"] == 11
    related = record["fit"]["relatedness"]
    assert related["held_documents"] == 3 and 0 < related["fit_related"] < related["fit_pairs"]
    assert record["dev_gold_pairs"]["pairs"] == record["dev_gold_pairs"]["gold"] == 18
    card = (copy / "README.md").read_text()
    assert card.count("## Pair typer") == 1 and "--method pair-types" in card
    from litmine.tasks.model_info import describe_model

    info = describe_model(copy)  # what `litmine models` lists
    assert info.kind == "BioRED relations + pair typer"
    names = [score.name for score in info.scores]
    assert names[0] == "pair F1, gold entities (with the typer)"
    assert info.scores[0].value == record["dev_gold_pairs"]["pair_f1"]
    assert all(name.endswith("(the typer)") or name.endswith("(the head alone)")
               for name in names[1:])
    assert "litmine train --task relations --method typed" in card  # the head's card is kept

    typed = TypedRelationModel(copy)
    assert typed.typer.fingerprint == record["fingerprint"]
    assert typed.name == f"{head.name}+pair-types@{record['fingerprint']}"
    assert typed.threshold == record["threshold"] == typed.typer.relatedness.threshold
    # the bagged threshold stays the one for given entities and IDs (`mine --entities given`)
    assert typed.given_threshold == bagged == typed.typer.relatedness.given_threshold != given
    assert record["dev_gold_pairs"]["pair_f1_at_threshold"] >= 0
    for doc in read_pubtator(DEV)[0]:
        mentions = canonical_mentions(doc)
        alone = {(r.first, r.second): r for r in head.predict_document(
            doc.text, mentions, threshold=0.0)}
        every = typed.predict_document(doc.text, mentions, threshold=0.0,
                                       title_length=len(doc.title))
        assert {(r.first, r.second) for r in every} == set(alone)
        spans = typed_spans(mentions)
        sentences = sentence_spans(doc.text, title_length=len(doc.title))
        assert typed.typer.evidence is None  # the CLI trains the words alone
        for r in every:
            features = pair_features(doc.text, sentences, r.first, r.second, spans)
            evidence = typed.typer.evidence_for(doc.text, sentences, [(r.first, r.second)],
                                                spans)[0]
            by_type = typed.typer.type_probabilities({**features, **evidence})
            assert r.relation == max(by_type, key=by_type.get)
            assert r.novel == ("Novel" if typed.typer.novelty(features) >= 0.5 else "No")
            score = typed.typer.relatedness.probability(alone[(r.first, r.second)].score,
                                                        features)
            assert r.score == pytest.approx(score, abs=2e-4)
        kept = typed.predict_document(doc.text, mentions, title_length=len(doc.title))
        assert kept == [r for r in every if r in kept]  # the same relations, in order
        assert all(r.score >= typed.threshold - 1e-4 for r in kept)  # scores are rounded
        assert all(r.score < typed.threshold + 1e-4 for r in every if r not in kept)

    # a head that does not list its held-out documents (trained before they were recorded):
    # every 6th is held out, and with one document fewer that is another set, some of it the
    # head trained on
    shifted = tmp_path / "shifted"
    shutil.copytree(typed_model, shifted)
    head_record = json.loads((shifted / "training.json").read_text())
    del head_record["data"]["held_out_pmids"]
    (shifted / "training.json").write_text(json.dumps(head_record))
    first_pmid = read_pubtator(TRAIN)[0][0].pmid
    (tmp_path / "one.txt").write_text(first_pmid + "\n")
    done = train(shifted, "--exclude", str(tmp_path / "one.txt"))
    assert done.returncode == 0, done.stderr
    shifted_record = json.loads((shifted / "pair_types.json").read_text())
    assert shifted_record["data"]["split"] == "every 6th training document held out"
    check = shifted_record["held_out_check"]
    assert check["checked"] and not check["matches"]
    assert "are not those the head held out" in done.stderr + done.stdout
    assert "**Warning**" in (shifted / "README.md").read_text()

    nothing = tmp_path / "empty"
    nothing.mkdir()
    done = train(nothing)
    assert done.returncode == 1 and "holds no typed relation model" in done.stderr
    assert not (nothing / TYPER_FILE).exists()
