"""Score predicted mentions against gold: strict mention-level P/R/F1, per type and micro.

A prediction is a true positive when (pmid, start, end, type) all equal a gold mention's: the
"strict" criterion of the BioCreative V CDR DNER task and of conlleval/seqeval's default mode.
Gold and predictions are treated as sets, so a repeated line counts once.

Concept-level scoring (BioCreative's document-level (pmid, type, concept ID) sets) plugs in
through the `key` argument of `score_spans` (see `concept_key`); predictions carry no concept IDs
yet, so litmine only reports mention-level scores for now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Characters of context shown on each side of an error in the listing.
CONTEXT_CHARS = 40


@dataclass(frozen=True, slots=True)
class Span:
    """A mention reduced to what scoring needs."""

    pmid: str
    start: int
    end: int
    type: str
    text: str = ""
    concept_id: str = ""


def mention_key(span: Span) -> tuple:
    """Strict mention-level identity: document, offsets and type."""
    return (span.pmid, span.start, span.end, span.type)


def concept_key(span: Span) -> tuple:
    """Document-level concept identity (hook for concept-level scoring; IDs not predicted yet)."""
    return (span.pmid, span.type, span.concept_id)


@dataclass
class Counts:
    """True/false positives and false negatives of one type (or of all, micro-averaged)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def n_gold(self) -> int:
        return self.tp + self.fn

    @property
    def n_predicted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        """tp / predicted; None when nothing was predicted (undefined, not 0)."""
        return self.tp / self.n_predicted if self.n_predicted else None

    @property
    def recall(self) -> float | None:
        """tp / gold; None when there is no gold mention (undefined, not 0)."""
        return self.tp / self.n_gold if self.n_gold else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of P and R; None when either is undefined, 0.0 when both are 0."""
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "n_gold": self.n_gold,
                "n_predicted": self.n_predicted, "precision": self.precision,
                "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True, slots=True)
class ScoringError:
    """One false positive or false negative, with a guess at why."""

    pmid: str
    kind: str  # "fp" or "fn"
    span: Span
    # boundary: overlaps a same-type span on the other side; type: same offsets, other type;
    # overlap-type: overlaps an other-type span; spurious (fp) / missed (fn): overlaps nothing.
    category: str
    related: Span | None = None


@dataclass
class Scores:
    """Per-type and micro-averaged counts, notes about undefined values, and the errors."""

    per_type: dict[str, Counts]
    micro: Counts
    scored_types: tuple[str, ...]
    n_documents: int
    level: str = "mention"
    notes: list[str] = field(default_factory=list)
    errors: list[ScoringError] = field(default_factory=list)
    unscored: dict[str, int] = field(default_factory=dict)  # type -> predictions not scored

    @property
    def f1(self) -> float | None:
        return self.micro.f1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts and P/R/F1 per type and micro (None where undefined)."""
        return {
            "level": self.level,
            "criterion": "strict (pmid, start, end, type)",
            "n_documents": self.n_documents,
            "types": list(self.scored_types),
            "micro": self.micro.as_dict(),
            "per_type": {t: c.as_dict() for t, c in sorted(self.per_type.items())},
            "unscored_predictions": dict(self.unscored),
            "notes": list(self.notes),
            "error_counts": _error_counts(self.errors),
        }


def _error_counts(errors: Iterable[ScoringError]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for e in errors:
        out[f"{e.kind}:{e.category}"] += 1
    return dict(sorted(out.items()))


def _categorise(span: Span, others: list[Span]) -> tuple[str, Span | None]:
    """Why a span found no exact partner among the other side's spans of its document."""
    overlapping = [o for o in others if o.start < span.end and span.start < o.end]
    for o in overlapping:
        if (o.start, o.end) == (span.start, span.end) and o.type != span.type:
            return "type", o
    for o in overlapping:
        if o.type == span.type:
            return "boundary", o
    if overlapping:
        return "overlap-type", overlapping[0]
    return "", None


def score_spans(gold: Iterable[Span], predicted: Iterable[Span], *,
                types: Collection[str] | None = None, pmids: Collection[str] | None = None,
                key: Callable[[Span], tuple] = mention_key, level: str = "mention") -> Scores:
    """Strict P/R/F1 of `predicted` against `gold`, per type and micro-averaged.

    `types`: the types to score (default: those with gold mentions; predictions of other types
    are counted in `unscored` and named in a note). `pmids`: the documents that were scored
    (default: those of the gold spans); predictions for other documents are ignored. `key`
    makes the identity of a mention (`mention_key`, or `concept_key` for concept level).
    """
    gold_list = list(gold)
    pred_list = list(predicted)
    docs = set(pmids) if pmids is not None else {g.pmid for g in gold_list}
    outside = sum(p.pmid not in docs for p in pred_list)
    pred_list = [p for p in pred_list if p.pmid in docs]
    gold_types = {g.type for g in gold_list}
    scored = sorted(types) if types is not None else sorted(gold_types)
    notes: list[str] = []
    if outside:
        notes.append(f"{outside} predictions for documents outside the gold set were ignored")
    unscored: dict[str, int] = defaultdict(int)
    for p in pred_list:
        if p.type not in scored:
            unscored[p.type] += 1
    for t, n in sorted(unscored.items()):
        notes.append(f"{n} predicted {t} mentions not scored: the gold set has no {t} "
                     f"annotations (pass types to score them as false positives)")
    gold_by_key = {key(g): g for g in gold_list if g.type in scored}
    pred_by_key = {key(p): p for p in pred_list if p.type in scored}

    per_type = {t: Counts() for t in scored}
    for k, g in gold_by_key.items():
        per_type[g.type].tp += k in pred_by_key
        per_type[g.type].fn += k not in pred_by_key
    for k, p in pred_by_key.items():
        per_type[p.type].fp += k not in gold_by_key
    micro = Counts()
    for c in per_type.values():
        micro.add(c)
    for t, c in per_type.items():
        if c.n_gold == 0:
            notes.append(f"no gold {t} mentions in these {len(docs)} documents: recall and F1 "
                         f"of {t} are undefined ({c.fp} predictions, all false positives)")
        elif c.n_predicted == 0:
            notes.append(f"no {t} mentions predicted: precision and F1 of {t} are undefined")

    errors = _list_errors(gold_by_key, pred_by_key)
    return Scores(per_type=per_type, micro=micro, scored_types=tuple(scored),
                  n_documents=len(docs), level=level, notes=notes, errors=errors,
                  unscored=dict(unscored))


def _list_errors(gold_by_key: Mapping[tuple, Span],
                 pred_by_key: Mapping[tuple, Span]) -> list[ScoringError]:
    gold_by_doc: dict[str, list[Span]] = defaultdict(list)
    pred_by_doc: dict[str, list[Span]] = defaultdict(list)
    for g in gold_by_key.values():
        gold_by_doc[g.pmid].append(g)
    for p in pred_by_key.values():
        pred_by_doc[p.pmid].append(p)
    errors = []
    for k, p in pred_by_key.items():
        if k not in gold_by_key:
            category, related = _categorise(p, gold_by_doc[p.pmid])
            errors.append(ScoringError(p.pmid, "fp", p, category or "spurious", related))
    for k, g in gold_by_key.items():
        if k not in pred_by_key:
            category, related = _categorise(g, pred_by_doc[g.pmid])
            errors.append(ScoringError(g.pmid, "fn", g, category or "missed", related))
    errors.sort(key=lambda e: (e.pmid, e.span.start, e.span.end, e.kind))
    return errors


def spans_from_documents(docs: Iterable[Any]) -> list[Span]:
    """Gold spans of PubTator documents (anything with pmid and mentions)."""
    return [Span(d.pmid, m.start, m.end, m.type, m.text, m.concept_id)
            for d in docs for m in d.mentions]


def spans_from_mentions(mentions: Iterable[Any]) -> list[Span]:
    """Spans of Mention records (anything with pmid, start, end, type, text)."""
    return [Span(m.pmid, m.start, m.end, m.type, getattr(m, "text", ""),
                 getattr(m, "concept_id", "")) for m in mentions]


def score_documents(gold_docs: Iterable[Any], predicted: Iterable[Any], *,
                    types: Collection[str] | None = None) -> Scores:
    """Score predicted Mention records against gold PubTator documents (strict, mention level).

    Every gold document is scored, also those with no gold or no predicted mention.
    """
    docs = list(gold_docs)
    return score_spans(spans_from_documents(docs), spans_from_mentions(predicted), types=types,
                       pmids=[d.pmid for d in docs])


# -- presentation --------------------------------------------------------------------------------
def pct(value: float | None) -> str:
    """A share as a percentage with two decimals ("51.52"), or "–" when undefined."""
    return "–" if value is None else f"{100 * value:.2f}"


def format_table(scores: Scores, title: str = "Strict mention-level scores"):
    """A rich Table: one row per type and a micro-averaged row (P/R/F1 in %)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))  # model and corpus paths: brackets are not markup
    for name in ("type", "gold", "pred", "TP", "FP", "FN", "P", "R", "F1"):
        table.add_column(name, justify="left" if name == "type" else "right")
    rows = [(t, c) for t, c in sorted(scores.per_type.items())] + [("micro", scores.micro)]
    for i, (name, c) in enumerate(rows):
        table.add_row(escape(name), str(c.n_gold), str(c.n_predicted), str(c.tp), str(c.fp), str(c.fn),
                      pct(c.precision), pct(c.recall), pct(c.f1),
                      end_section=i == len(rows) - 2)
    if scores.notes:
        table.caption = "\n".join(scores.notes)
    return table


def format_markdown(scores: Scores) -> str:
    """The same table as markdown (for model cards and Prefect artifacts)."""
    lines = ["| type | gold | pred | TP | FP | FN | P | R | F1 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [(t, c) for t, c in sorted(scores.per_type.items())] + [("**micro**", scores.micro)]
    for name, c in rows:
        lines.append(f"| {name} | {c.n_gold} | {c.n_predicted} | {c.tp} | {c.fp} | {c.fn} | "
                     f"{pct(c.precision)} | {pct(c.recall)} | {pct(c.f1)} |")
    lines += [f"\n_{n}_" for n in scores.notes]
    return "\n".join(lines)


def format_errors(scores: Scores, texts: Mapping[str, str]) -> str:
    """Per-document listing of false positives and negatives with their context.

    `texts` maps PMID -> document text (title + " " + abstract). Context is CONTEXT_CHARS
    characters either side, with the span in [[double brackets]].
    """
    out: list[str] = []
    current = None
    for e in scores.errors:
        if e.pmid != current:
            current = e.pmid
            out.append(f"\n## PMID {e.pmid}")
        s = e.span
        text = texts.get(e.pmid, "")
        context = ""
        if text:
            left = text[max(0, s.start - CONTEXT_CHARS):s.start].replace("\n", " ")
            right = text[s.end:s.end + CONTEXT_CHARS].replace("\n", " ")
            context = f"  …{left}[[{text[s.start:s.end]}]]{right}…"
        related = ""
        if e.related is not None:
            r = e.related
            side = "gold" if e.kind == "fp" else "predicted"
            related = f" ({side}: {r.text or text[r.start:r.end]!s} {r.start}-{r.end} {r.type})"
        out.append(f"{e.kind.upper()} {e.category:<12} {s.type:<10} {s.start}-{s.end} "
                   f"{s.text or text[s.start:s.end]!r}{related}\n{context}")
    return "\n".join(out).lstrip("\n") + ("\n" if out else "")


def evaluate_predictions(gold_docs: Iterable[Any], predicted_mentions: Iterable[Any], *,
                         types: Collection[str] | None = None) -> Scores:
    """Score predicted mentions (e.g. read back from `litmine export`) against gold documents."""
    return score_documents(gold_docs, predicted_mentions, types=types)
