"""Train the pair typer (`litmine.tasks.relations.pair_types`) into a typed relation model.

Every gold relation of the BioRED-format training files is one example: `pair_features` of its
two concepts, its type, its novelty. Two scikit-learn logistic regressions (multinomial over the
types, binary for novelty) are fitted; each one's inverse regularisation C is chosen from
`C_GRID` by 5-fold cross-validation on the training documents (folds by document, so that no
abstract is on both sides). Dev is only scored: type and novelty accuracy on its gold pairs,
beside the majority type of each entity-type pair in training (the prior a model gets for
free) and "always Novel".
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.pair_types import (TYPER_FILE, PairTyper, load_pair_typer,
                                                pair_features, save_pair_typer, sentence_spans)
from litmine.tasks.relations.shared import TYPED_TASKS, shared_task
from litmine.tasks.relations.training.documents import read_train_dev
from litmine.tasks.relations.typed import NOVEL, is_typed_model, typed_spans
from litmine.tasks.relations.typed_gold import canonical_mentions, gold_relations
from litmine.tasks.sources.pubtator import PubTatorDocument

#: Inverse regularisation strengths tried (cross-validation picks one per regression).
C_GRID = (0.03, 0.1, 0.3, 1.0)
FOLDS = 5
#: The record of the last training, beside the typer.
RECORD_FILE = "pair_types.json"
#: Weights are stored to this many decimals (the dev accuracies are checked after rounding).
DECIMALS = 6


def typing_examples(docs: Sequence[PubTatorDocument]
                    ) -> tuple[list[dict[str, float]], list[str], list[str], list[str], list[str]]:
    """(features, type, novelty, PMID, entity-type pair) of every gold relation of `docs`."""
    features, types, novelty, pmids, kinds = [], [], [], [], []
    for d in docs:
        spans = typed_spans(canonical_mentions(d))
        key_of = {}
        for key in sorted(spans):
            key_of.setdefault(key[1], key)
        sentences = sentence_spans(d.text, title_length=len(d.title))
        for pair, (relation, novel) in gold_relations(d).items():
            keys = sorted(key_of[cid] for cid in pair if cid in key_of)
            if len(keys) != 2:
                continue  # gold_relations checks that a mention carries each ID: never here
            features.append(pair_features(d.text, sentences, keys[0], keys[1], spans))
            types.append(relation)
            novelty.append(novel)
            pmids.append(d.pmid)
            kinds.append("|".join(sorted((keys[0][0], keys[1][0]))))
    return features, types, novelty, pmids, kinds


def _fit(matrix, labels: list[str], groups: list[str], seed: int):
    """(the logistic regression refitted on all rows at the C that cross-validated best,
    {C: mean fold accuracy})."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    folds = GroupKFold(n_splits=min(FOLDS, len(set(groups))))
    cv = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare classes: fewer members than folds
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
            cv[c] = float(cross_val_score(model, matrix, labels, cv=folds, groups=groups).mean())
    best = max(C_GRID, key=lambda c: (cv[c], -c))
    return LogisticRegression(C=best, max_iter=3000, random_state=seed).fit(matrix, labels), cv


def fit_pair_typer(docs: Sequence[PubTatorDocument], *, seed: int = 13
                   ) -> tuple[PairTyper, dict[str, Any]]:
    """The typer fitted on every gold relation of `docs`, and what cross-validation chose."""
    from sklearn.feature_extraction import DictVectorizer

    features, types, novelty, pmids, _ = typing_examples(docs)
    labelled = [k for k, n in enumerate(novelty) if n in (NOVEL, "No")]
    if len(set(types)) < 2 or len(set(pmids)) < 2:
        raise LitmineError(f"train-relations --method pair-types: {len(types)} relations of "
                           f"{len(set(types))} type(s) in {len(set(pmids))} document(s); give "
                           "BioRED-format training files with relation lines of several types")
    if {novelty[k] for k in labelled} != {NOVEL, "No"}:
        raise LitmineError("train-relations --method pair-types: the training relations carry "
                           "no Novel/No column (BioRED's fifth); give BioRED-format files")
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(features)
    by_type, type_cv = _fit(matrix, types, pmids, seed)
    by_novelty, novelty_cv = _fit(matrix[labelled], [novelty[k] for k in labelled],
                                  [pmids[k] for k in labelled], seed)
    names = vectorizer.get_feature_names_out()
    coef = by_type.coef_.round(DECIMALS)
    novel_sign = 1.0 if by_novelty.classes_[1] == NOVEL else -1.0
    novel_coef = (novel_sign * by_novelty.coef_[0]).round(DECIMALS)
    typer = PairTyper(
        types=tuple(str(t) for t in by_type.classes_),
        weights={str(n): [float(w) for w in coef[:, j]] for j, n in enumerate(names)
                 if coef[:, j].any()},
        intercepts=[round(float(b), DECIMALS) for b in by_type.intercept_],
        novelty_weights={str(n): float(novel_coef[j]) for j, n in enumerate(names)
                         if novel_coef[j]},
        novelty_intercept=round(novel_sign * float(by_novelty.intercept_[0]), DECIMALS))
    chosen = {"type_c": by_type.C, "novelty_c": by_novelty.C,
              "type_cv_accuracy": {str(c): round(100 * a, 2) for c, a in type_cv.items()},
              "novelty_cv_accuracy": {str(c): round(100 * a, 2) for c, a in novelty_cv.items()},
              "relations": len(types), "with_novelty": len(labelled),
              "features": len(names), "types": dict(Counter(types).most_common())}
    return typer, chosen


def typing_accuracy(typer: PairTyper, docs: Sequence[PubTatorDocument],
                    train_docs: Sequence[PubTatorDocument]) -> dict[str, Any]:
    """Type and novelty accuracy of `typer` on the gold pairs of `docs`, beside the majority
    type of each entity-type pair in `train_docs` and always "Novel"."""
    features, types, novelty, _, kinds = typing_examples(docs)
    _, train_types, _, _, train_kinds = typing_examples(train_docs)
    prior: dict[str, Counter] = defaultdict(Counter)
    for kind, relation in zip(train_kinds, train_types):
        prior[kind][relation] += 1
    right = right_prior = novel_right = novel_all = always_novel = 0
    for f, relation, novel, kind in zip(features, types, novelty, kinds):
        by_type = typer.type_probabilities(f)
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
                     seed: int = 13, command_line: str | None = None, **_: Any
                     ) -> dict[str, Any]:
    """Fit the pair typer on `train_files` and save it into the typed relation model at
    `out_dir` (replacing a typer there); its model card gets a section on it."""
    out = Path(out_dir)
    if not (is_typed_model(out) or shared_task(out) in TYPED_TASKS):
        raise LitmineError(f"train-relations --method pair-types: {out} holds no typed relation "
                           "model; give --out the directory of the model whose relations it "
                           "should type (e.g. data/models/litmine-relations-biored-minilm-l6)")
    started = time.time()
    train_docs, dev_docs = read_train_dev(train_files, dev_files, exclude, max_train_docs,
                                          max_dev_docs)
    typer, chosen = fit_pair_typer(train_docs, seed=seed)
    staging = out / (TYPER_FILE + ".training")
    staging.mkdir(exist_ok=True)
    save_pair_typer(staging, typer)
    typer = load_pair_typer(staging)  # the rounded weights as saved: what is scored below
    result = {
        "kind": "pair-types", "out_dir": str(out), "threshold": _threshold(out),
        "params": {"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files],
                   "exclude": [str(p) for p in exclude], "max_train_docs": max_train_docs,
                   "max_dev_docs": max_dev_docs, "seed": seed, "c_grid": list(C_GRID),
                   "folds": FOLDS},
        "data": {"train_documents": len(train_docs), "dev_documents": len(dev_docs),
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *dev_files]]},
        "fit": chosen, "dev_gold_pairs": typing_accuracy(typer, dev_docs, train_docs),
        "fingerprint": typer.fingerprint, "command_line": command_line}
    result["seconds"] = round(time.time() - started, 1)
    (staging / TYPER_FILE).replace(out / TYPER_FILE)
    staging.rmdir()
    (out / RECORD_FILE).write_text(json.dumps(result, indent=2) + "\n")
    write_typer_section(out / "README.md", result)
    return result


def _threshold(out: Path) -> float:
    """The relation model's own threshold (the typer keeps which pairs are relations)."""
    for name in ("shared.json", "docre.json"):
        path = out / name
        if path.is_file():
            return float(json.loads(path.read_text()).get("threshold", 0.5))
    return 0.5


#: The card section the typer owns (replaced on retraining).
SECTION_START = "<!-- pair-types: written by litmine train --method pair-types -->"
SECTION_END = "<!-- /pair-types -->"


def write_typer_section(card: Path, result: dict[str, Any]) -> Path:
    """Put (or replace) the pair typer's section in the model card `card`."""
    fit, dev = result["fit"], result["dev_gold_pairs"]
    cv_type = ", ".join(f"C={c}: {a}" for c, a in fit["type_cv_accuracy"].items())
    cv_novel = ", ".join(f"C={c}: {a}" for c, a in fit["novelty_cv_accuracy"].items())
    section = f"""{SECTION_START}
## Pair typer (`{TYPER_FILE}`, {result['fingerprint']})

The head above decides which pairs are relations; their type and novelty come from two
logistic regressions over the words around the pair (`litmine.tasks.relations.pair_types`),
fitted on {fit['relations']} gold relations of {result['data']['train_documents']} training
documents ({fit['features']} features) in {result['seconds']} s:

```
{result.get('command_line') or '(trained from Python)'}
```

| | cross-validated accuracy on training documents (5 folds by document) | chosen C |
|---|---|---:|
| type | {cv_type} | {fit['type_c']} |
| novelty | {cv_novel} | {fit['novelty_c']} |

Dev ({result['data']['dev_documents']} documents, {dev['pairs']} gold pairs, only scored):
type right for **{dev['type_accuracy']}%** (the majority type of each entity-type pair in
training: {dev['prior_type_accuracy']}%), novelty right for **{dev['novelty_accuracy']}%** of
{dev['novelty_pairs']} (always "Novel": {dev['always_novel_accuracy']}%).
{SECTION_END}
"""
    text = card.read_text() if card.is_file() else ""
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section.rstrip("\n") + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    card.write_text(text)
    return card
