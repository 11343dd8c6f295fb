"""CID candidates, evidence, features, the linear classifier and relation scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from litmine.tasks.sources.pubtator import read_pubtator
from litmine.tasks.records import Mention, Sentence
from litmine.tasks.linking.mesh_tree import TREE_FILE, MeshTree
from litmine.tasks.relations.candidates import (aggregate, build_candidates, concept_ids, crop,
                                                document_candidates, drop_general_relations,
                                                mark_text)
from litmine.tasks.relations.evaluation import score_relations
from litmine.tasks.relations.features import (candidate_features, document_context,
                                              evidence_features, evidence_tokens)
from litmine.tasks.relations.linear import LinearRelationModel
from litmine.tasks.relations.registry import load_relation_model, train_relations
from litmine.tasks.relations.training.linear import train_linear_relations
from litmine.tasks.relations.training.thresholds import best_threshold, f1_at

CORPORA = Path(__file__).resolve().parents[1] / "fixtures" / "corpora"
TRAIN = CORPORA / "bc5cdr_train_sample.pubtator"
DEV = CORPORA / "bc5cdr_dev_sample.pubtator"

TITLE = "Lidocaine-induced cardiac asystole."
ABSTRACT = ("Lidocaine was given to a man. He had bradyarrhythmias. Aspirin was also given. "
            "No seizures occurred.")
TEXT = TITLE + " " + ABSTRACT


def _sentences():
    out, start = [], 0
    for i, piece in enumerate([TITLE] + [s + "." for s in ABSTRACT.rstrip(".").split(". ")]):
        start = TEXT.index(piece, start)
        out.append(Sentence("1", i, start, start + len(piece), piece))
        start += len(piece)
    return out


def _mention(word, type_, cid, nth=0):
    i = -1
    for _ in range(nth + 1):
        i = TEXT.index(word, i + 1)
    return Mention("1", i, i + len(word), word, type_, concept_id=cid)


MENTIONS = [_mention("Lidocaine", "Chemical", "D008012"),
            _mention("cardiac asystole", "Disease", "D006323"),
            _mention("Lidocaine", "Chemical", "D008012", 1),
            _mention("bradyarrhythmias", "Disease", "D001919"),
            _mention("Aspirin", "Chemical", "D001241"),
            _mention("seizures", "Disease", "D012640|D004827")]


def test_mark_text_wraps_typed_markers():
    s = _sentences()[0]
    marked = mark_text(TEXT, s.start, s.end, [(0, 9, "Chemical"), (18, 34, "Disease")])
    assert marked == "@ * chemical * Lidocaine @-induced # ^ disease ^ cardiac asystole #."
    assert evidence_tokens(marked) == ["CHEMX", "induced", "DISX"]
    assert evidence_tokens("The @ * chemical * 5-FU @ (# ^ disease ^ Toxicity #)") == [
        "the", "CHEMX", "(", "DISX", ")"]


def test_concept_ids_split_composites_and_drop_minus_one():
    assert concept_ids(MENTIONS[-1]) == ["D012640", "D004827"]
    assert concept_ids(Mention("1", 0, 1, "x", "Chemical", concept_id="-1")) == []


def test_candidates_and_their_evidence():
    cands = {(c.chemical_id, c.disease_id): c for c in
             build_candidates("1", TEXT, _sentences(), MENTIONS, title_end=len(TITLE))}
    # 2 chemicals x 4 disease concepts (the composite gives two)
    assert len(cands) == 8
    title_pair = cands[("D008012", "D006323")]
    assert [e.sentence_indexes for e in title_pair.evidence] == [(0,)]
    assert title_pair.chemical_in_title and title_pair.disease_in_title
    assert title_pair.chemical_count == 2 and title_pair.chemical == "Lidocaine"
    adjacent = cands[("D008012", "D001919")]  # sentences 1 and 2
    assert [e.sentence_indexes for e in adjacent.evidence] == [(1, 2)]
    assert "@ * chemical * Lidocaine @" in adjacent.evidence[0].text
    assert adjacent.evidence[0].plain == TEXT[_sentences()[1].start:_sentences()[2].end]
    far = cands[("D008012", "D012640")]  # sentences 0/1 and 4: no evidence
    assert far.evidence == []
    assert cands[("D001241", "D012640")].evidence[0].sentence_indexes == (3, 4)


def test_unlinked_mentions_make_no_candidates():
    no_ids = [Mention(m.pmid, m.start, m.end, m.text, m.type) for m in MENTIONS]
    assert build_candidates("1", TEXT, _sentences(), no_ids) == []


def test_crop_keeps_markers():
    long = "word " * 200 + "@ * chemical * X @ causes # ^ disease ^ Y #" + " word" * 200
    out = crop(long, 300)
    assert len(out) <= 300 and "@ * chemical * X @" in out and "# ^ disease ^ Y #" in out
    assert crop("short", 300) == "short"


def test_crop_without_any_marker_keeps_the_start():
    """Issue 21: every span left unmarked in a long evidence text made `crop` fail on min([])
    and sank the whole run."""
    long = "word " * 300
    out = crop(long, 300)
    assert len(out) <= 300 and out == long[:300]


@pytest.mark.parametrize("spans, want", [
    # crossing the evidence end (a mention across a sentence end): marked up to the end
    ([(0, 9, "Chemical"), (18, 60, "Disease")],
     "@ * chemical * Lidocaine @-induced # ^ disease ^ cardiac asystole. #"),
    # zero-length and reversed spans: not marked, text kept whole
    ([(5, 5, "Chemical"), (12, 9, "Disease")], "Lidocaine-induced cardiac asystole."),
    # nested (a chemical inside a disease mention): the first one wins, nothing is repeated
    ([(0, 34, "Disease"), (0, 9, "Chemical")],
     "@ * chemical * Lidocaine @-induced cardiac asystole."),
    # starting before the evidence: clipped to its start
    ([(-4, 9, "Chemical")], "@ * chemical * Lidocaine @-induced cardiac asystole."),
])
def test_mark_text_never_loses_or_repeats_text(spans, want):
    s = _sentences()[0]
    marked = mark_text(TEXT, s.start, s.end, spans)
    assert marked == want


def test_features_see_trigger_words_and_title():
    f = evidence_features("@ * chemical * cocaine @ induced # ^ disease ^ seizures #", "same")
    assert f["btw=induced"] == 1.0 and f["order=CD"] == 1.0 and f["dist=1"] == 1.0
    cands = build_candidates("1", TEXT, _sentences(), MENTIONS, title_end=len(TITLE))
    ctx = document_context(cands, TITLE)
    assert ctx["title_triggers"] == ["induc"]
    title_pair = next(c for c in cands if c.key == ("1", "D008012", "D006323"))
    feats = candidate_features(title_pair, ctx)
    assert feats["title-induc:True:True"] == 1.0 and feats["chem-rank=0"] == 1.0


# The hierarchy of a document naming kidney disease in general and renal insufficiency in
# particular (tree numbers from MeSH, abridged), and two amphetamines.
TREE = MeshTree({"D007674": ("C12.777.419",), "D051437": ("C12.777.419.780",),
                 "D007022": ("C14.907.514",), "D000662": ("D02.092.471.683.152",),
                 "D000661": ("D02.092.471.683.152.110",)})


def _candidate(chem, dis, relation="CID"):
    from litmine.tasks.relations.candidates import Candidate

    return Candidate("1", chem, dis, relation=relation, score=0.9)


def test_general_relations_give_way_to_specific_ones():
    cands = [_candidate("D000661", "D007674"),  # kidney disease: general
             _candidate("D000661", "D051437"),  # renal insufficiency: below it
             _candidate("D000661", "D007022"),  # hypotension: unrelated
             _candidate("D000662", "D007022"),  # amphetamines: above amphetamine
             _candidate("D000662", "D051437", relation="")]  # not predicted: no effect
    out = drop_general_relations(cands, TREE)
    assert [c.relation for c in out] == ["", "CID", "CID", "", ""]
    # a general disease stays when its specific one goes with another chemical
    kept = drop_general_relations([_candidate("D000661", "D007674"),
                                   _candidate("D000662", "D051437")], TREE)
    assert [c.relation for c in kept] == ["CID", "CID"]
    # without a tree nothing changes
    assert [c.relation for c in drop_general_relations(
        [_candidate("D000661", "D007674"), _candidate("D000661", "D051437")], None)] == ["CID"] * 2


def test_tree_features_name_categories_and_more_specific_concepts():
    mentions = [Mention("1", 0, 9, "Lidocaine", "Chemical", concept_id="D000661"),
                Mention("1", 18, 34, "cardiac asystole", "Disease", concept_id="D007674"),
                Mention("1", 69, 85, "bradyarrhythmias", "Disease", concept_id="D051437")]
    cands = build_candidates("1", TEXT, _sentences(), mentions, title_end=len(TITLE))
    ctx = document_context(cands, TITLE, TREE)
    assert ctx["general"] == {"D007674"}
    general = next(c for c in cands if c.disease_id == "D007674")
    specific = next(c for c in cands if c.disease_id == "D051437")
    f, g = candidate_features(general, ctx), candidate_features(specific, ctx)
    assert f["dis-general=True"] == 1.0 and g["dis-general=False"] == 1.0
    assert f["dis-cat1=C12"] == 1.0 and f["dis-cat2=C12.777"] == 1.0
    assert f["chem-cat1=D02"] == 1.0 and f["chem-general=False"] == 1.0
    assert "dis-general=True" not in candidate_features(general, document_context(cands, TITLE))


@pytest.mark.parametrize("scores, how, expected", [
    ([0.2, 0.5], "max", 0.5), ([0.5, 0.5], "noisy-or", 0.75), ([], "max", 0.0)])
def test_aggregate(scores, how, expected):
    assert aggregate(scores, how) == pytest.approx(expected)


def test_best_threshold_and_f1_at():
    scored = [(0.9, True), (0.8, False), (0.7, True), (0.1, False)]
    threshold, f1, p, r = best_threshold(scored, n_gold=3)
    assert threshold == 0.7 and p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert f1_at(scored, 3, 0.85) == pytest.approx(
        {"threshold": 0.85, "tp": 1, "fp": 0, "fn": 2, "precision": 1.0, "recall": 1 / 3,
         "f1": 0.5})


def test_bagged_threshold_is_the_median_of_document_resamples():
    from litmine.tasks.relations.training.thresholds import bagged_threshold

    # ten documents, each with one relation scored 0.9 and a non-relation scored 0.1: every
    # resample's best threshold is 0.9
    scored = [(0.9, True), (0.1, False)] * 10
    documents = [k for k in range(10) for _ in range(2)]
    assert bagged_threshold(scored, documents, [1] * 10) == 0.9
    # one hard document (its relation scored below a non-relation): resamples that hold it
    # twice or more prefer 0.3, the others 0.9; the median is one of them, the same each time
    hard = scored + [(0.3, True), (0.5, False)]
    documents_hard = documents + [10, 10]
    t = bagged_threshold(hard, documents_hard, [1] * 11)
    assert t == bagged_threshold(hard, documents_hard, [1] * 11) and t in (0.9, 0.3)


def test_score_relations_is_biocreative_style():
    docs, _ = read_pubtator(DEV)
    gold = [(d.pmid, a, b) for d in docs for t, a, b in d.relations]
    assert score_relations(docs, gold).micro.f1 == 1.0
    wrong = [(p, b, a) for p, a, b in gold]  # swapped: chemical and disease roles matter
    scores = score_relations(docs, wrong + gold[:1] + gold[:1])
    assert scores.micro.tp == 1 and scores.micro.fn == len(gold) - 1
    assert scores.level == "relation" and list(scores.per_type) == ["CID"]


def test_linear_model_trains_saves_and_predicts(tmp_path):
    out = tmp_path / "cid"
    result = train_relations([TRAIN], [DEV], None, out)  # default method: linear
    assert result["kind"] == "linear" and 0 < result["threshold"] < 1
    assert result["data"]["train_relations"] > 0 and result["data"]["dev_documents"] == 6
    for name in ("relation.json", "weights.json.gz", "README.md", "training.json"):
        assert (out / name).is_file()
    assert "litmine CID relation classifier" in (out / "README.md").read_text()
    model = load_relation_model(out)
    assert isinstance(model, LinearRelationModel) and model.priors is not None
    docs, _ = read_pubtator(TRAIN)
    predicted = []
    for d in docs:
        for c in model.predict(document_candidates(d), d.title):
            assert 0.0 <= c.score <= 1.0 and c.method == "cid-linear"
            if c.relation == "CID":
                predicted.append(c.key)
    # on its own training documents the model must find most relations
    assert score_relations(docs, predicted).micro.recall > 0.5


def test_linear_model_with_a_mesh_tree_saves_and_uses_it(tmp_path):
    fixtures = CORPORA.parent / "lexicon"
    desc = fixtures / "desc_sample.xml"
    out = tmp_path / "cid-tree"
    result = train_relations([TRAIN], [DEV], None, out,
                             mesh_tree=[fixtures / "mesh_tree_sample.tsv", desc])
    assert result["data"]["mesh_tree_concepts"] > 0 and (out / TREE_FILE).is_file()
    model = load_relation_model(out)
    assert model.tree is not None and model.tree.tree_numbers("D003000")  # clonidine, from desc
    assert any(k.startswith("dis-cat1=") for k in model.weights)
    record = (out / "README.md").read_text()
    assert str(desc) in record  # the card lists the tree's source files


def test_linear_training_needs_documents(tmp_path):
    from litmine.errors import LitmineError

    with pytest.raises(LitmineError, match="at least 5 training documents"):
        train_linear_relations([TRAIN], [DEV], tmp_path / "x", max_train_docs=2)


def test_cid_reach_counts_gold_pairs_whose_chemical_and_disease_ids_were_found():
    """`cid_reach`: a gold CID pair is reachable when a Chemical mention carries its chemical ID
    and a Disease mention its disease ID (parts of a composite count); the caption says so."""
    from types import SimpleNamespace

    from litmine.tasks.records import Mention
    from litmine.tasks.relations.evaluation import cid_reach, describe_cid_reach

    docs = [SimpleNamespace(pmid="1", relations=[("CID", "D1", "D7"), ("CID", "D1", "D8"),
                                                 ("CID", "D2", "D7")]),
            SimpleNamespace(pmid="2", relations=[("CID", "D1", "D7")])]
    mentions = [Mention("1", 0, 3, "abc", "Chemical", concept_id="D1"),
                Mention("1", 5, 9, "pain", "Disease", concept_id="D7|D9"),
                Mention("1", 12, 15, "xyz", "Disease", concept_id="D2"),  # D2 as a disease
                Mention("2", 0, 3, "abc", "Chemical", concept_id="D1")]
    reach = cid_reach(docs, mentions)
    assert reach == {"gold": 4, "reachable": 1}  # only 1: D1 -> D7
    line = describe_cid_reach({"end_to_end": {"cid_reach": reach},
                               "gold_ids": {"cid_reach": {"gold": 0, "reachable": 0}}})
    assert line == ("Gold CID relations whose two IDs the mentions carry: "
                    "end_to_end 25.00% (1 of 4)")
    assert describe_cid_reach({}) == ""
