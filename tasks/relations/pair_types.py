"""A relation's type and novelty read from the words around its two concepts (the pair typer).

The relation heads decide well whether two concepts of an abstract are related (BioRED dev pair
F1 near 60 with gold IDs), but not how: on every gold pair of BioRED dev the shipped head picked
the right one of the eight types for 53.1%, below the 53.8% a model gets by answering the most
common type of the pair's entity types (`benchmarks/relation_types.py`). The words between two
mentions say it ("X reduced Y", "X-induced Y", "X binds Y"), so a multinomial logistic
regression over them, with the entity types, gives each pair the head found a type, and a
binary one its novelty (where in the abstract the pair is named: the title, the closing
sentences, "we found"). Bag-of-words features between entity pairs are the classic relation
extraction baseline (Zhou et al. 2005, "Exploring various knowledge in relation extraction",
ACL; Mintz et al. 2009, ACL-IJCNLP); BioRED's own paper reports such feature models beside
its transformers (Luo et al. 2022, Briefings in Bioinformatics 23(5), bbac282).

The head's P(no relation) is kept, so the pairs found and their scores do not change: the
typer only re-divides the rest among the eight types and replaces P(novel). It lives in the
relation model's directory as `TYPER_FILE` (readable JSON weights), is trained by
`litmine train --task relations --method pair-types`
(`litmine.tasks.relations.training.pair_types`) and is used whenever it is there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from litmine.errors import ModelError

#: The typer's file inside a typed relation model's directory.
TYPER_FILE = "pair_types.json.gz"
#: Version of the features below; a typer saved with another is refused (retrain it).
FEATURES_VERSION = 1

Key = tuple[str, str]  # (entity type, concept ID)
Span = tuple[int, int]

_WORD = re.compile(r"[a-z][a-z\-]+")
#: Suffixes cut from a word (at least 4 letters left): "induced", "induces" and "inducing"
#: become one feature. A light stemmer in the spirit of Porter's first step (Porter 1980,
#: "An algorithm for suffix stripping", Program 14(3)).
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "s")
#: Sentence words count half as much as words between the two mentions, and a sentence that
#: names only one of the concepts 0.3 (chosen on BioRED train by 5-fold cross-validation).
_SENTENCE_WEIGHT, _EITHER_WEIGHT = 0.5, 0.3
#: A pair named together in more sentences than this counts as this many.
_MAX_TOGETHER = 5
#: More words than this between the two closest mentions: the "far" feature.
_FAR = 20


def stem(word: str) -> str:
    """`word` without the first of `_SUFFIXES` it ends in, if 4 letters or more remain."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The stemmed lowercase words of `text` (letters and hyphens, at least two)."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def _sentence_of(sentences: Sequence[Span], position: int) -> int:
    for k, (start, end) in enumerate(sentences):
        if start <= position < end:
            return k
    return len(sentences) - 1


def pair_features(text: str, sentences: Sequence[Span], first: Key, second: Key,
                  spans: Mapping[Key, Sequence[Span]]) -> dict[str, float]:
    """The features of the pair (`first`, `second`) in `text`: its entity types; for each
    sentence naming both, the words between their closest mentions and the sentence's words
    (also joined with the entity types) and where the sentence is; for a pair never named
    together, the words of the sentences naming either."""
    kinds = "|".join(sorted((first[0], second[0])))
    f: dict[str, float] = {"bias": 1.0, f"pt={kinds}": 1.0}

    def add(name: str, value: float) -> None:
        f[name] = f.get(name, 0.0) + value

    in_first = {_sentence_of(sentences, s) for s, _ in spans[first]}
    in_second = {_sentence_of(sentences, s) for s, _ in spans[second]}
    together = sorted(in_first & in_second)
    last = len(sentences) - 1
    f["nco"] = min(len(together), _MAX_TOGETHER) / _MAX_TOGETHER
    if not together:
        f["noco"] = 1.0
        f[f"noco|{kinds}"] = 1.0
    for k in together:
        start, end = sentences[k]
        if k == 0:
            f["in_title"] = 1.0
        if k == last:
            f["in_last"] = 1.0
        if k >= last - 1:
            f["in_last2"] = 1.0
        a = [m for m in spans[first] if start <= m[0] < end]
        b = [m for m in spans[second] if start <= m[0] < end]
        (a0, a1), (b0, b1) = min(((x, y) for x in a for y in b),
                                 key=lambda xy: abs(xy[0][0] - xy[1][0]))
        between = words(text[a1:b0] if a0 < b0 else text[b1:a0])
        for w in between:
            add(f"btw={w}", 1.0)
            add(f"{kinds}|btw={w}", 1.0)
        for w in set(words(text[start:end])):
            add(f"sent={w}", _SENTENCE_WEIGHT)
            add(f"{kinds}|sent={w}", _SENTENCE_WEIGHT)
        if len(between) > _FAR:
            f["far"] = 1.0
    either = in_first | in_second
    f["first_pos"] = min(either) / max(1, last)
    f["last_pos"] = max(either) / max(1, last)
    if last in either:
        f["any_last"] = 1.0
    if 0 in in_first and 0 in in_second:
        f["both_title"] = 1.0
    if not together:
        for k in either:
            start, end = sentences[k]
            for w in set(words(text[start:end])):
                add(f"either={w}", _EITHER_WEIGHT)
    return f


def sentence_spans(text: str, sentences: Sequence = (), title_length: int | None = None
                   ) -> list[Span]:
    """(start, end) of each of the document's sentences: of `sentences` (records with `start`
    and `end`) when given, else of `text` split as the pipeline splits it."""
    if sentences:
        return [(s.start, s.end) for s in sentences]
    from litmine.tasks.text.sentences import split_sentences

    return split_sentences(text, title_length) or [(0, len(text))]


def _softmax(z: Sequence[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


@dataclass
class PairTyper:
    """Logistic regressions over `pair_features`: the relation type (multinomial) and P(novel)."""

    types: tuple[str, ...]
    weights: dict[str, list[float]]  # feature -> one weight per type
    intercepts: list[float]
    novelty_weights: dict[str, float]
    novelty_intercept: float
    fingerprint: str = ""

    def type_probabilities(self, features: Mapping[str, float]) -> dict[str, float]:
        """Type -> probability."""
        z = list(self.intercepts)
        for name, value in features.items():
            row = self.weights.get(name)
            if row is not None:
                for k, w in enumerate(row):
                    z[k] += w * value
        return dict(zip(self.types, _softmax(z)))

    def novelty(self, features: Mapping[str, float]) -> float:
        """P(the abstract reports the relation as its own finding)."""
        z = self.novelty_intercept + sum(self.novelty_weights.get(name, 0.0) * value
                                         for name, value in features.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def retype(self, text: str, spans: Mapping[Key, Sequence[Span]], classes: Sequence[str],
               scored: Sequence[tuple], *, sentences: Sequence = (),
               title_length: int | None = None) -> list[tuple]:
        """`scored` (first, second, class probabilities over `classes`, "none" first, P(novel))
        with P(none) kept and the rest divided among the types by this typer, P(novel) its.

        `sentences`: the document's `Sentence` records (else `text` is split here, its title
        ending at `title_length`)."""
        if not scored:
            return []
        sentences = sentence_spans(text, sentences, title_length)
        out = []
        for first, second, probabilities, _ in scored:
            features = pair_features(text, sentences, first, second, spans)
            by_type = self.type_probabilities(features)
            related = 1.0 - probabilities[0]
            out.append((first, second,
                        [probabilities[0], *(related * by_type.get(c, 0.0) for c in classes[1:])],
                        self.novelty(features)))
        return out

    def to_json(self) -> dict:
        return {"features_version": FEATURES_VERSION, "types": list(self.types),
                "intercepts": self.intercepts, "weights": self.weights,
                "novelty": {"intercept": self.novelty_intercept,
                            "weights": self.novelty_weights}}


def save_pair_typer(directory: str | Path, typer: PairTyper) -> Path:
    """Write `typer` into `directory` as `TYPER_FILE` (deterministic bytes); return the path."""
    path = Path(directory) / TYPER_FILE
    data = json.dumps(typer.to_json(), sort_keys=True, separators=(",", ":")).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(data)
    return path


def load_pair_typer(directory: str | Path) -> PairTyper | None:
    """The typer saved in `directory`, or None when it has none."""
    path = Path(directory) / TYPER_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        data = json.loads(gzip.decompress(raw))
        if data.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"features version {data.get('features_version')}, this litmine "
                             f"reads {FEATURES_VERSION}")
        novelty = data["novelty"]
        return PairTyper(tuple(data["types"]), data["weights"], list(data["intercepts"]),
                         novelty["weights"], float(novelty["intercept"]),
                         hashlib.sha256(raw).hexdigest()[:12])
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"relations: {path} is not a pair typer litmine can read ({exc}); "
                         "retrain it with `litmine train --task relations --method pair-types "
                         f"--out {directory}`, or delete it to use the head's own types") from exc
