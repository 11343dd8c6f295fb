"""The gold documents a relation model trains and is scored on: PubTator files with CID lines,
dev PMIDs kept out of training, and the optional MeSH tree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litmine.errors import LitmineError
from litmine.tasks.linking.mesh_tree import read_mesh_tree
from litmine.tasks.sources.pmid_lists import read_pmids
from litmine.tasks.sources.pubtator import PubTatorDocument, iter_pubtator


def read_documents(paths: Sequence[str | Path], exclude: set[str] = frozenset(),
                   limit: int | None = None) -> list[PubTatorDocument]:
    """Documents of PubTator files, skipping excluded PMIDs and repeats, first `limit` only."""
    docs, seen = [], set()
    for p in paths:
        if not Path(p).is_file():
            raise LitmineError(f"train-relations: {p} does not exist; pass BC5CDR-style "
                               "PubTator files with CID relation lines")
        for d in iter_pubtator(p):
            if d.pmid in exclude or d.pmid in seen:
                continue
            seen.add(d.pmid)
            docs.append(d)
    return docs[:limit] if limit is not None else docs


def read_train_dev(train_files, dev_files, exclude=(), max_train_docs=None, max_dev_docs=None):
    """(training documents, dev documents): dev PMIDs and `exclude` never in training."""
    dev_docs = read_documents(dev_files, limit=max_dev_docs)
    held_out = {d.pmid for d in read_documents(dev_files)} | (read_pmids(exclude) if exclude
                                                               else set())
    train_docs = read_documents(train_files, exclude=held_out, limit=max_train_docs)
    if not dev_docs:
        raise LitmineError(f"train-relations: no dev documents in {list(dev_files)}")
    return train_docs, dev_docs


def load_tree(mesh_tree: Sequence[str | Path]):
    """A MeshTree from the given files, or None when there are none."""
    if not mesh_tree:
        return None
    return read_mesh_tree(mesh_tree)


def split_by_scheme(paths: Sequence[str | Path], option: str) -> tuple[list[Path], list[Path]]:
    """(BC5CDR-style files, BioRED-style files) among `paths`, by their relation lines: "CID"
    lines make a CID file, BioRED's relation types a BioRED one. LitmineError naming a file
    with neither (`option`: the command-line option it came from)."""
    from litmine.tasks.relations.typed import RELATION_TYPES

    cid, biored = [], []
    for p in map(Path, paths):
        if not p.is_file():
            raise LitmineError(f"train-relations: {option} {p} does not exist")
        kinds = {t for d in iter_pubtator(p) for t, _, _ in d.relations}
        if "CID" in kinds:
            cid.append(p)
        elif kinds & set(RELATION_TYPES):
            biored.append(p)
        else:
            raise LitmineError(f"train-relations: {option} {p} has neither CID relation lines "
                               "(BC5CDR) nor BioRED's relation types; the joint method takes "
                               "one of each kind for --train and for --dev")
    return cid, biored
