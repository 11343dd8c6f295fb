"""Training corpora listed with what each one annotates (AIONER's list format, extended).

Each corpus annotates only some entity types: NCBI-disease marks diseases but leaves every
chemical and gene in its text untagged. A list line says which types a file annotates and how
its type names map to litmine's canonical ones, so training can treat an untagged word in that
file as "not one of the annotated types" instead of "no entity at all"
(`litmine.tasks.training.partial`).

The format is AIONER's training list (Luo et al. 2023, Bioinformatics btad310,
``AIONER_list_train.txt``): tab-separated, one corpus per line::

    FILE<TAB>LABEL<TAB>Target:Source|Source<TAB>Target:Source ...[<TAB>max_docs=N]

FILE is resolved against a corpus folder (``--corpus-dir``, default the list's own folder);
LABEL is ``ALL`` (the file annotates every type: an untagged word is no entity of any type, as
in BioRED) or the types the corpus is for; each ``Target:Sources`` column
maps corpus types to a canonical type, and the targets are the types the file annotates. Corpus
types named in no column are dropped (tmVar3 also marks genes and diseases; AIONER takes only its
variants, and so does this list). ``max_docs=N`` keeps a seeded sample of N documents (BioID has
9,704 figure captions); ``negatives=F`` trains on a seeded share F of the file's sentences that
hold no mention (LINNAEUS is 80 full texts: 13,776 sentences, 1,554 with a species). Lines starting with ``#`` and blank lines are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from litmine.errors import LitmineError


@dataclass(frozen=True)
class CorpusSpec:
    """One training corpus: its file, the canonical types it annotates and its type map."""

    path: Path
    annotated: tuple[str, ...]  # canonical types this file annotates (others: unknown)
    type_map: dict[str, str] = field(default_factory=dict)  # corpus type -> canonical type
    max_docs: int | None = None
    label: str = "ALL"
    negatives: float = 1.0  # share of the sentences without a mention that are trained on

    @property
    def complete(self) -> bool:
        """LABEL ``ALL``: every type is annotated, so untagged words are taught as no entity."""
        return self.label.upper() == "ALL"

    def as_dict(self) -> dict:
        return {"path": str(self.path), "label": self.label, "annotated": list(self.annotated),
                "type_map": dict(self.type_map), "max_docs": self.max_docs,
                "negatives": self.negatives}


def parse_corpus_line(line: str, *, where: str, corpus_dir: Path) -> CorpusSpec:
    """One list line as a CorpusSpec; a clear error naming the line when it is malformed."""
    columns = [c.strip() for c in line.rstrip("\r\n").split("\t")]
    if len(columns) < 3:
        raise LitmineError(f"corpus list {where}: expected FILE<TAB>LABEL<TAB>Target:Source|..., "
                           f"got {line.strip()[:80]!r}")
    name, label, *rest = columns
    type_map: dict[str, str] = {}
    annotated: list[str] = []
    max_docs, negatives = None, 1.0
    for column in filter(None, rest):
        key, eq, value = column.partition("=")
        if eq and ":" not in key:
            max_docs, negatives = _option(key.strip(), value.strip(), column, where,
                                          max_docs, negatives)
            continue
        target, colon, sources = column.partition(":")
        if not colon or not target.strip() or not sources.strip():
            raise LitmineError(f"corpus list {where}: {column!r} is not Target:Source|Source "
                               "(e.g. Disease:SpecificDisease|DiseaseClass)")
        target = target.strip()
        annotated.append(target)
        for source in sources.split("|"):
            if source.strip():
                type_map[source.strip()] = target
    path = Path(name)
    if not path.is_absolute():
        path = corpus_dir / path
    return CorpusSpec(path, tuple(dict.fromkeys(annotated)), type_map, max_docs, label, negatives)


def _option(key: str, value: str, column: str, where: str, max_docs: int | None,
            negatives: float) -> tuple[int | None, float]:
    """Apply one ``key=value`` column: max_docs=N (N >= 1) or negatives=F (0 < F <= 1)."""
    if key == "max_docs" and value.isdigit() and int(value) >= 1:
        return int(value), negatives
    if key == "negatives":
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if 0 < share <= 1:
            return max_docs, share
    raise LitmineError(f"corpus list {where}: bad option {column!r}; options are max_docs=N "
                       "(N >= 1) and negatives=F (0 < F <= 1)")


def read_corpus_list(path: str | Path, corpus_dir: str | Path | None = None) -> list[CorpusSpec]:
    """The corpora of a list file, each file checked to exist (the error says where it looked)."""
    path = Path(path)
    if not path.is_file():
        raise LitmineError(f"corpus list {path} does not exist; give a file like "
                           "data/training/six-types.tsv")
    folder = Path(corpus_dir) if corpus_dir is not None else path.parent
    specs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec = parse_corpus_line(line, where=f"{path} line {number}", corpus_dir=folder)
        if not spec.path.is_file():
            raise LitmineError(
                f"corpus list {path} line {number}: {spec.path} does not exist; pass the folder "
                "that holds the corpora with --corpus-dir (in a litmine checkout: "
                "../shared/data/corpora)")
        specs.append(spec)
    if not specs:
        raise LitmineError(f"corpus list {path} names no corpora")
    return specs
