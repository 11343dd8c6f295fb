"""Train the pair typer (`litmine.tasks.relations.pair_types`) into a typed relation model.

Every gold relation of the BioRED-format training files is one example for the type and the
novelty: `pair_features` of its two concepts, its type, its novelty; with `evidence_weight`,
for the type also its evidence embedded by the bundled sentence encoder
(`litmine.tasks.relations.evidence`). Two scikit-learn logistic
regressions (multinomial over the types, binary for novelty) are fitted; each one's inverse
regularisation C is chosen from `C_GRID` by 5-fold cross-validation on the training documents
(folds by document, so that no abstract is on both sides).

Whether a pair is a relation at all (`fit_relatedness`): every candidate pair of the gold
mentions is an example, related or not. The held-out documents are those the head held out in
its own training (its `training.json` lists them), else every `HOLD_OUT_EVERY`-th as the typed
relation trainers split (`training_split`); `check_held_out` compares them with the head's
record. The words' regression is fitted on the other documents, and its stacking with the
head's score and the threshold on the held-out ones.

Dev is only scored: type and novelty accuracy on its gold pairs, beside the majority type of
each entity-type pair in training (the prior a model gets for free) and "always Novel", and
pair F1 with gold entities and IDs, the head alone and with the typer.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.evidence import evidence_features, evidence_text
from litmine.tasks.relations.pair_types import (RECORD_FILE, TYPER_FILE, Linear, PairTyper,
                                                Relatedness, load_pair_typer, logit,
                                                pair_features, save_pair_typer, sentence_spans)
from litmine.tasks.relations.shared import (TYPED_TASKS, SharedRelationModel, is_shared_model,
                                            shared_task)
from litmine.tasks.relations.training.documents import read_train_dev
from litmine.tasks.relations.training.cards import write_typer_section
from litmine.tasks.relations.training.thresholds import bagged_threshold, best_threshold, f1_at
from litmine.tasks.relations.training.typed import HOLD_OUT_EVERY, split_documents
from litmine.tasks.relations.typed import (NOVEL, TypedRelationModel, candidate_pairs,
                                           is_typed_model, typed_spans)
from litmine.tasks.relations.typed_gold import canonical_mentions, gold_relations
from litmine.tasks.sources.pubtator import PubTatorDocument

log = logging.getLogger(__name__)

#: Inverse regularisation strengths tried (cross-validation picks one per regression).
C_GRID = (0.03, 0.1, 0.3, 1.0)
FOLDS = 5
#: Weights are stored to this many decimals (the dev accuracies are checked after rounding).
DECIMALS = 6


def typing_examples(docs: Sequence[PubTatorDocument]
                    ) -> tuple[list[dict[str, float]], list[str], list[str], list[str], list[str],
                               list[str]]:
    """(features, type, novelty, PMID, entity-type pair, evidence text) of every gold relation
    of `docs`."""
    features, types, novelty, pmids, kinds, evidence = [], [], [], [], [], []
    for d in docs:
        spans = typed_spans(canonical_mentions(d))
        key_of = {}
        for key in sorted(spans):
            key_of.setdefault(key[1], key)
        sentences = sentence_spans(d.text, title_length=len(d.title))
        cache: dict = {}
        for pair, (relation, novel) in gold_relations(d).items():
            keys = sorted(key_of[cid] for cid in pair if cid in key_of)
            if len(keys) != 2:
                continue  # gold_relations checks that a mention carries each ID: never here
            features.append(pair_features(d.text, sentences, keys[0], keys[1], spans, cache))
            evidence.append(evidence_text(d.text, sentences, keys[0], keys[1], spans))
            types.append(relation)
            novelty.append(novel)
            pmids.append(d.pmid)
            kinds.append("|".join(sorted((keys[0][0], keys[1][0]))))
    return features, types, novelty, pmids, kinds, evidence


def _fit(matrix, labels: list, groups: list[str], seed: int, scoring: str = "accuracy"):
    """(the logistic regression refitted on all rows at the C that cross-validated best,
    {C: mean fold `scoring`, higher is better})."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    folds = GroupKFold(n_splits=min(FOLDS, len(set(groups))))
    cv = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare classes: fewer members than folds
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
            cv[c] = float(cross_val_score(model, matrix, labels, cv=folds, groups=groups,
                                          scoring=scoring).mean())
    best = max(C_GRID, key=lambda c: (cv[c], -c))
    return LogisticRegression(C=best, max_iter=3000, random_state=seed).fit(matrix, labels), cv


def int32_indices(matrix):
    """A sparse matrix with 32-bit indices (scikit-learn's cross-validation refuses 64-bit ones,
    which a dense block of evidence values can bring)."""
    import numpy as np
    import scipy.sparse as sp

    matrix = sp.csr_matrix(matrix)
    matrix.indices, matrix.indptr = (matrix.indices.astype(np.int32),
                                     matrix.indptr.astype(np.int32))
    return matrix


def fit_pair_typer(docs: Sequence[PubTatorDocument], *, seed: int = 13,
                   evidence_weight: float = 0.0, embed_model: str | None = None,
                   device: str = "auto") -> tuple[PairTyper, dict[str, Any]]:
    """The typer fitted on every gold relation of `docs`, and what cross-validation chose.

    `evidence_weight` > 0 (`EVIDENCE_WEIGHT` is the measured one): the type also reads each
    pair's evidence embedded by `embed_model` (default: the bundled sentence encoder); 0 (the
    default, as shipped): the words alone. The evidence gains type accuracy but costs `mine` a
    sentence-encoder pass per document (`litmine.tasks.relations.evidence`)."""
    from sklearn.feature_extraction import DictVectorizer

    features, types, novelty, pmids, _, texts = typing_examples(docs)
    labelled = [k for k, n in enumerate(novelty) if n in (NOVEL, "No")]
    if len(set(types)) < 2 or len(set(pmids)) < 2:
        raise LitmineError(f"train-relations --method pair-types: {len(types)} relations of "
                           f"{len(set(types))} type(s) in {len(set(pmids))} document(s); give "
                           "BioRED-format training files with relation lines of several types")
    if {novelty[k] for k in labelled} != {NOVEL, "No"}:
        raise LitmineError("train-relations --method pair-types: the training relations carry "
                           "no Novel/No column (BioRED's fifth); give BioRED-format files")
    evidence = None
    typing = features
    if evidence_weight > 0:
        from litmine.tasks.semantic.embeddings import load_embedder

        embedder = load_embedder(embed_model, device=device)
        evidence = {"model": embedder.model_name, "weight": evidence_weight}
        typing = [{**f, **e} for f, e in zip(features, evidence_features(
            texts, embedder.model_name, evidence_weight, device=device))]
    type_vectorizer, vectorizer = DictVectorizer(), DictVectorizer()
    by_type, type_cv = _fit(int32_indices(type_vectorizer.fit_transform(typing)), types, pmids, seed)
    matrix = int32_indices(vectorizer.fit_transform(features))
    by_novelty, novelty_cv = _fit(matrix[labelled], [novelty[k] for k in labelled],
                                  [pmids[k] for k in labelled], seed)
    type_names, names = type_vectorizer.get_feature_names_out(), vectorizer.get_feature_names_out()
    coef = by_type.coef_.round(DECIMALS)
    novel_sign = 1.0 if by_novelty.classes_[1] == NOVEL else -1.0
    novel_coef = (novel_sign * by_novelty.coef_[0]).round(DECIMALS)
    typer = PairTyper(
        types=tuple(str(t) for t in by_type.classes_),
        weights={str(n): [float(w) for w in coef[:, j]] for j, n in enumerate(type_names)
                 if coef[:, j].any()},
        intercepts=[round(float(b), DECIMALS) for b in by_type.intercept_],
        novelty_weights={str(n): float(novel_coef[j]) for j, n in enumerate(names)
                         if novel_coef[j]},
        novelty_intercept=round(novel_sign * float(by_novelty.intercept_[0]), DECIMALS),
        evidence=evidence)
    chosen = {"type_c": by_type.C, "novelty_c": by_novelty.C,
              "type_cv_accuracy": {str(c): round(100 * a, 2) for c, a in type_cv.items()},
              "novelty_cv_accuracy": {str(c): round(100 * a, 2) for c, a in novelty_cv.items()},
              "relations": len(types), "with_novelty": len(labelled),
              "features": len(type_names), "evidence": evidence, "types": dict(Counter(types).most_common())}
    return typer, chosen


def candidate_rows(docs: Sequence[PubTatorDocument], head_scores: dict | None = None
                   ) -> tuple[list[dict[str, float]], list[bool], list[str], list[float], int]:
    """(features, is a gold relation, PMID, the head's score, gold relations) of every candidate
    pair of `docs`' gold mentions (with `head_scores`, only the pairs the head scored)."""
    features, related, pmids, scores, gold_count = [], [], [], [], 0
    for d in docs:
        spans = typed_spans(canonical_mentions(d))
        gold = gold_relations(d)
        gold_count += len(gold)
        sentences = sentence_spans(d.text, title_length=len(d.title))
        cache: dict = {}
        for a, b in candidate_pairs(list(spans)):
            score = None if head_scores is None else head_scores.get((d.pmid, a, b))
            if head_scores is not None and score is None:
                continue
            features.append(pair_features(d.text, sentences, a, b, spans, cache))
            related.append(frozenset((a[1], b[1])) in gold)
            pmids.append(d.pmid)
            scores.append(score)
    return features, related, pmids, scores, gold_count


def score_with_head(head, docs: Sequence[PubTatorDocument]) -> dict[tuple, float]:
    """(PMID, first key, second key) -> the head's 1 - P(none), for every pair it scores in
    `docs` with gold mentions and IDs (its own NER pass over each document)."""
    out = {}
    for d in docs:
        for r in head.predict_document(d.text, canonical_mentions(d), threshold=0.0,
                                       title_length=len(d.title)):
            out[(d.pmid, r.first, r.second)] = r.score
    return out


def fit_relatedness(fit_docs: Sequence[PubTatorDocument], held_docs: Sequence[PubTatorDocument],
                    head, *, seed: int = 13, threshold: float | None = None
                    ) -> tuple[Relatedness, dict[str, Any]]:
    """Whether a pair is a relation, from its words and the head's score (`Relatedness`).

    The words' regression is fitted on `fit_docs` (C by cross-validated log loss), the
    stacking of its logit with the head's, and the threshold (bagged best pair F1), on
    `held_docs`, which neither it nor the head trained on; then the words' regression is
    refitted on both sets for the shipped typer (scikit-learn's stacking does the same).
    `threshold`: the stacked score at which a pair is a relation, given instead of the bagged
    one: one chosen end to end on a development set, say. The bagged one is kept as the
    threshold for given entities and IDs (`Relatedness.given_threshold`), the input it was
    chosen on."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    features, related, pmids, _, _ = candidate_rows(fit_docs)
    held_scores = score_with_head(head, held_docs)
    h_features, h_related, h_pmids, h_head, h_gold = candidate_rows(held_docs, held_scores)
    if len(set(related)) < 2 or len(set(h_related)) < 2:
        raise LitmineError("train-relations --method pair-types: the training documents need "
                           "related and unrelated pairs both among those fitted and those held "
                           f"out (every {HOLD_OUT_EVERY}th); give more BioRED-format documents")
    vectorizer = DictVectorizer()
    words, cv = _fit(vectorizer.fit_transform(features), related, pmids, seed, "neg_log_loss")
    best_c = words.C
    p_words = words.predict_proba(vectorizer.transform(h_features))[:, 1]
    stack_x = [(logit(h), logit(w)) for h, w in zip(h_head, p_words.tolist())]
    stacker = LogisticRegression(C=1.0, max_iter=1000).fit(stack_x, h_related)
    stacked = stacker.predict_proba(stack_x)[:, 1]
    index = {pmid: k for k, pmid in enumerate(dict.fromkeys(h_pmids))}
    per_document = Counter()
    for d in held_docs:
        if d.pmid in index:
            per_document[index[d.pmid]] = len(gold_relations(d))
    bagged = bagged_threshold(list(zip(stacked.tolist(), h_related)),
                              [index[p] for p in h_pmids],
                              [per_document[k] for k in range(len(index))], seed=seed)
    threshold = bagged if threshold is None else threshold
    # the shipped words' regression: refitted on every training document
    all_vectorizer = DictVectorizer()
    all_matrix = all_vectorizer.fit_transform(features + h_features)
    words_all = LogisticRegression(C=best_c, max_iter=3000, random_state=seed).fit(
        all_matrix, related + h_related)
    coef = words_all.coef_[0].round(DECIMALS)
    names = all_vectorizer.get_feature_names_out()
    relatedness = Relatedness(
        Linear({str(n): float(coef[j]) for j, n in enumerate(names) if coef[j]},
               round(float(words_all.intercept_[0]), DECIMALS)),
        head=round(float(stacker.coef_[0][0]), DECIMALS),
        weight=round(float(stacker.coef_[0][1]), DECIMALS),
        intercept=round(float(stacker.intercept_[0]), DECIMALS),
        threshold=round(float(threshold), DECIMALS),
        given_threshold=round(float(bagged), DECIMALS))
    head_alone = best_threshold(list(zip(h_head, h_related)), h_gold)
    head_at_its_threshold = f1_at(list(zip(h_head, h_related)), h_gold, head.threshold)["f1"]
    record = {"c": best_c, "cv_log_loss": {str(c): round(-v, 4) for c, v in cv.items()},
              "fit_pairs": len(related), "fit_related": sum(related),
              "held_documents": len(held_docs), "held_pairs": len(h_related),
              "held_gold": h_gold, "stack": {"head": relatedness.head,
                                             "words": relatedness.weight,
                                             "intercept": relatedness.intercept},
              "threshold": relatedness.threshold,
              "bagged_threshold": round(float(bagged), DECIMALS),
              "held_pair_f1_bagged": round(100 * f1_at(list(zip(stacked.tolist(), h_related)),
                                                       h_gold, bagged)["f1"], 2),
              "held_pair_f1": round(100 * f1_at(list(zip(stacked.tolist(), h_related)), h_gold,
                                                relatedness.threshold)["f1"], 2),
              "held_pair_f1_head_best": round(100 * head_alone[1], 2),
              "held_pair_f1_head": round(100 * head_at_its_threshold, 2)}
    return relatedness, record


#: How far (F1 points) the head's pair F1 on the held-out documents may be from what its
#: training recorded on its own held-out documents: the dtype (bf16, int8, fp32) moves it by
#: a few tenths.
HELD_OUT_TOLERANCE = 2.0


def training_split(out: Path, train_files, dev_files, exclude, max_train_docs, max_dev_docs):
    """(fit, held-out, dev documents, how they were split): the held-out documents are those
    the head's `training.json` lists as its own (`held_out_pmids`) when it does; else every
    `HOLD_OUT_EVERY`-th, as the typed relation trainers split (the same files and exclusions
    as the head's then give the head's)."""
    try:
        recorded = set(json.loads((out / "training.json").read_text())["data"]["held_out_pmids"])
    except (OSError, ValueError, KeyError, TypeError):
        recorded = set()
    if recorded:
        train, dev = read_train_dev(train_files, dev_files, exclude, max_train_docs,
                                    max_dev_docs)
        held = [d for d in train if d.pmid in recorded]
        if held:
            return ([d for d in train if d.pmid not in recorded], held, dev,
                    f"the head's {len(recorded)} held-out documents ({out / 'training.json'}), "
                    f"{len(held)} of them in the training files")
        log.warning("train-relations --method pair-types: none of the %d documents %s lists as "
                    "the head's held out is in the training files; holding out every %dth",
                    len(recorded), out / "training.json", HOLD_OUT_EVERY)
    fit, held, dev = split_documents(train_files, dev_files, exclude, max_train_docs,
                                     max_dev_docs)
    return fit, held, dev, f"every {HOLD_OUT_EVERY}th training document held out"


def check_held_out(out: Path, relatedness: dict[str, Any]) -> dict[str, Any]:
    """Whether the documents held out here are those the head held out in its training: the
    same number of gold relations and the head's pair F1 on them within `HELD_OUT_TOLERANCE`
    of what its `training.json` recorded. If not, the head trained on some of them, so the
    stacking trusts it too much: warned, and written into the record."""
    path = out / "training.json"
    try:
        pair = json.loads(path.read_text())["held_out"]["pair"]
        recorded = {"gold": pair["tp"] + pair["fn"], "pair_f1": round(100 * pair["f1"], 2)}
    except (OSError, ValueError, KeyError, TypeError):
        return {"checked": False, "why": f"{path} records no held-out pair scores"}
    here = {"gold": relatedness["held_gold"], "pair_f1": relatedness["held_pair_f1_head"]}
    matches = (recorded["gold"] == here["gold"]
               and abs(recorded["pair_f1"] - here["pair_f1"]) <= HELD_OUT_TOLERANCE)
    check = {"checked": True, "matches": matches, "recorded": recorded, "here": here}
    if not matches:
        check["warning"] = (
            f"train-relations --method pair-types: the documents held out here ({here['gold']} "
            f"gold relations, the head's pair F1 {here['pair_f1']}) are not those the head held "
            f"out in its training ({recorded['gold']}, {recorded['pair_f1']} in {path}); the "
            "stacking was fitted on documents the head trained on and trusts it too much. Give "
            "the --train files and every --exclude the head was trained with, or retrain the "
            "head: its training.json then lists the documents it held out")
        log.warning("%s", check["warning"])
    return check


def pair_detection(head, typer: PairTyper, docs: Sequence[PubTatorDocument]) -> dict[str, Any]:
    """Pair F1 on `docs` (gold entities and IDs) of the head alone at its threshold and with
    the typer's relatedness at the typer's threshold for given entities and IDs (and at its
    threshold for NER's, `pair_f1_at_threshold`)."""
    scores = score_with_head(head, docs)
    features, related, _, head_scores, gold = candidate_rows(docs, scores)
    stacked = [typer.relatedness.combine(h, typer.read(f)[2])  # as `PairTyper.retype` scores
               for h, f in zip(head_scores, features)]
    return {"documents": len(docs), "gold": gold,
            "head_pair_f1": round(100 * f1_at(list(zip(head_scores, related)), gold,
                                              head.threshold)["f1"], 2),
            "pair_f1": round(100 * f1_at(list(zip(stacked, related)), gold,
                                         typer.given_threshold)["f1"], 2),
            "pair_f1_at_threshold": round(100 * f1_at(list(zip(stacked, related)), gold,
                                                      typer.threshold)["f1"], 2)}


def typing_accuracy(typer: PairTyper, docs: Sequence[PubTatorDocument],
                    train_docs: Sequence[PubTatorDocument]) -> dict[str, Any]:
    """Type and novelty accuracy of `typer` on the gold pairs of `docs`, beside the majority
    type of each entity-type pair in `train_docs` and always "Novel"."""
    features, types, novelty, _, kinds, texts = typing_examples(docs)
    _, train_types, _, _, train_kinds, _ = typing_examples(train_docs)
    evidence = ([{}] * len(texts) if typer.evidence is None else evidence_features(
        texts, typer.evidence["model"], float(typer.evidence["weight"])))
    prior: dict[str, Counter] = defaultdict(Counter)
    for kind, relation in zip(train_kinds, train_types):
        prior[kind][relation] += 1
    right = right_prior = novel_right = novel_all = always_novel = 0
    for f, relation, novel, kind, more in zip(features, types, novelty, kinds, evidence):
        by_type = typer.type_probabilities({**f, **more})
        right += max(by_type, key=by_type.get) == relation
        right_prior += bool(prior[kind]) and prior[kind].most_common(1)[0][0] == relation
        if novel in (NOVEL, "No"):
            novel_all += 1
            novel_right += (typer.novelty(f) >= 0.5) == (novel == NOVEL)
            always_novel += novel == NOVEL
    n = max(1, len(types))
    return {"pairs": len(types), "type_accuracy": round(100 * right / n, 2),
            "prior_type_accuracy": round(100 * right_prior / n, 2),
            "novelty_pairs": novel_all,
            "novelty_accuracy": round(100 * novel_right / max(1, novel_all), 2),
            "always_novel_accuracy": round(100 * always_novel / max(1, novel_all), 2)}


def train_pair_types(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                     out_dir: str | Path, *, exclude: Sequence[str | Path] = (),
                     max_train_docs: int | None = None, max_dev_docs: int | None = None,
                     seed: int = 13, device: str = "auto", command_line: str | None = None,
                     evidence_weight: float = 0.0, threshold: float | None = None,
                     **_: Any) -> dict[str, Any]:
    """Fit the pair typer on `train_files` and save it into the typed relation model at
    `out_dir` (replacing a typer there); its model card gets a section on it.
    `evidence_weight`: as `fit_pair_typer` (from Python; the CLI trains the words alone).
    `threshold`: as `fit_relatedness` (`--threshold`)."""
    out = Path(out_dir)
    if threshold is not None and not 0.0 < threshold < 1.0:  # before minutes of fitting
        raise LitmineError(f"train-relations --method pair-types: --threshold {threshold} is no "
                           "probability; give one between 0 and 1 (exclusive), e.g. 0.3")
    if not (is_typed_model(out) or shared_task(out) in TYPED_TASKS):
        raise LitmineError(f"train-relations --method pair-types: {out} holds no typed relation "
                           "model; give --out the directory of the model whose relations it "
                           "should type (e.g. data/models/litmine-relations-biored-minilm-l6)")
    started = time.time()
    fit_docs, held_docs, dev_docs, split = training_split(out, train_files, dev_files, exclude,
                                                          max_train_docs, max_dev_docs)
    train_docs = [*fit_docs, *held_docs]
    typer, chosen = fit_pair_typer(train_docs, seed=seed, device=device,
                                   evidence_weight=evidence_weight)
    head = (SharedRelationModel if is_shared_model(out) else TypedRelationModel)(
        out, device=device, dtype="auto", pair_typer=False)
    typer.relatedness, chosen["relatedness"] = fit_relatedness(fit_docs, held_docs, head,
                                                               seed=seed, threshold=threshold)
    staging = out / (TYPER_FILE + ".training")
    staging.mkdir(exist_ok=True)
    save_pair_typer(staging, typer)
    typer = load_pair_typer(staging)  # the rounded weights as saved: what is scored below
    result = {
        "kind": "pair-types", "out_dir": str(out), "threshold": typer.threshold,
        "params": {"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files],
                   "exclude": [str(p) for p in exclude], "max_train_docs": max_train_docs,
                   "max_dev_docs": max_dev_docs, "seed": seed, "c_grid": list(C_GRID),
                   "folds": FOLDS, "threshold": threshold},
        "data": {"split": split, "train_documents": len(train_docs),
                 "fit_documents": len(fit_docs),
                 "held_out_documents": len(held_docs), "dev_documents": len(dev_docs),
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *dev_files]]},
        "held_out_check": check_held_out(out, chosen["relatedness"]),
        "fit": chosen, "dev_gold_pairs": typing_accuracy(typer, dev_docs, train_docs)
        | pair_detection(head, typer, dev_docs),
        "fingerprint": typer.fingerprint, "command_line": command_line}
    result["seconds"] = round(time.time() - started, 1)
    (staging / TYPER_FILE).replace(out / TYPER_FILE)
    staging.rmdir()
    (out / RECORD_FILE).write_text(json.dumps(result, indent=2) + "\n")
    write_typer_section(out / "README.md", result)
    return result
