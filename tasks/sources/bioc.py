"""Write documents with their mentions and relations as BioC XML or BioC JSON (what PubTator3 serves).

BioC (Comeau et al. 2013, Database bat064; https://bioc.sourceforge.net/) is a collection of
documents (id = PMID), each with passages (the title at offset 0, the abstract at offset
``len(title) + 1``) holding annotations (infons ``type``, ``identifier`` and ``model``, a
location ``offset``/``length`` and the text) and document-level relations (infons ``type`` and
the two concept IDs, nodes whose ``refid`` is an annotation of either concept). Offsets are
document-level and count characters (code points) of ``title + " " + abstract``, as litmine stores
them. The elements are the `bioc` package's; the collection is written one document at a time, so
an export of a large store never holds it whole.
"""

from __future__ import annotations

import bisect
import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import TextIO

from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCNode, BioCPassage, BioCRelation
from bioc.biocjson import toJSON
from bioc.biocxml.encoder import encode_document
from lxml import etree

from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.records import Article, Mention

FORMATS = ("bioc-xml", "bioc-json")
#: `identifier` of an annotation without a concept ID, as in litmine's PubTator export.
NO_ID = "-"
#: Node roles of a relation type's two arguments (BioCreative V CDR's BioC names them so).
ROLES = {"CID": ("Chemical", "Disease")}
#: Characters XML 1.0 does not allow (https://www.w3.org/TR/xml/#charsets); lxml refuses them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(value: str) -> str:
    """`value` with characters XML cannot hold as spaces (same length, so offsets stay valid)."""
    return _NOT_XML.sub(" ", value)


def build_document(article: Article, mentions: Sequence[Mention],
                   relations: Sequence[tuple[str, str, str]] = (), *, model: str | None = None,
                   xml: bool = False) -> BioCDocument:
    """One BioC document: title and abstract passages (a full text: its stored passages), their
    annotations, the relations ((type, id1, id2), or (type, id1, id2, novelty) for BioRED's
    typed relations).

    An annotation belongs to the passage its start falls in; its ``identifier`` is the stored
    concept ID ("|"-joined for composite mentions, as stored) or "-". A relation's nodes are the annotations
    whose ID (or one of whose composite parts) is one of the relation's two IDs.
    """
    clean = _xml_safe if xml else (lambda value: value)
    doc = BioCDocument()
    doc.id = article.pmid
    if article.passages:  # a full text: one BioC passage per stored passage, document offsets
        text, starts = article.text, [p.start for p in article.passages]
        for k, p in enumerate(article.passages):
            passage = BioCPassage()
            passage.infons["type"] = p.type or ("title" if k == 0 else "paragraph")
            passage.offset, passage.text = p.start, clean(text[p.start:p.end])
            doc.add_passage(passage)
        home = lambda m: doc.passages[max(0, bisect.bisect_right(starts, m.start) - 1)]  # noqa: E731
    else:
        title = BioCPassage()
        title.infons["type"] = "title"
        title.offset, title.text = 0, clean(article.title)
        doc.add_passage(title)
        abstract = None
        if article.abstract:
            abstract = BioCPassage()
            abstract.infons["type"] = "abstract"
            abstract.offset, abstract.text = len(article.title) + 1, clean(article.abstract)
            doc.add_passage(abstract)
        home = lambda m: abstract if abstract is not None and m.start > len(article.title) else title  # noqa: E731
    by_id: dict[str, list[str]] = {}
    for n, m in enumerate(sorted(mentions, key=lambda m: (m.start, m.end, m.type)), start=1):
        ann = BioCAnnotation()
        ann.id = str(n)
        ann.infons["type"] = m.type
        ann.infons["identifier"] = m.concept_id or NO_ID
        if model:
            ann.infons["model"] = model
        ann.add_location(BioCLocation(m.start, m.end - m.start))
        ann.text = clean(m.text)
        home(m).add_annotation(ann)
        for part in mention_concept_ids(m.type, m.concept_id):
            by_id.setdefault(part, []).append(ann.id)
    for n, (kind, first, second, *novelty) in enumerate(sorted(relations), start=1):
        rel = BioCRelation()
        rel.id = f"R{n}"
        roles = ROLES.get(kind, ("arg1", "arg2"))
        rel.infons["type"] = kind
        rel.infons[roles[0]], rel.infons[roles[1]] = first, second
        if novelty:  # BioRED's typed relations (PubTator3 writes the infon "novel")
            rel.infons["novel"] = novelty[0]
        if model:
            rel.infons["model"] = model
        for role, concept in zip(roles, (first, second)):
            for refid in by_id.get(concept, ()):
                rel.add_node(BioCNode(refid, role))
        doc.add_relation(rel)
    return doc


def _collection_fields(model: str | None) -> dict:
    return {"source": "litmine", "date": time.strftime("%Y-%m-%d"), "key": "litmine.key",
            "infons": {"model": model} if model else {}}


class BioCWriter:
    """Write one BioC collection to a text stream, a document at a time: `write` each batch of
    (article, mentions) and its relations, then `close` (or use it as a context manager)."""

    def __init__(self, handle: TextIO, fmt: str, *, model: str | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"BioC: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.handle, self.xml, self.model, self.written = handle, fmt == "bioc-xml", model, 0
        head = _collection_fields(model)
        if self.xml:
            handle.write("<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n<collection>")
            for name in ("source", "date", "key"):
                element = etree.Element(name)
                element.text = head[name]
                handle.write(etree.tostring(element, encoding="unicode"))
            for key, value in head["infons"].items():
                element = etree.Element("infon", {"key": key})
                element.text = _xml_safe(str(value))
                handle.write(etree.tostring(element, encoding="unicode"))
            handle.write("\n")
        else:
            fields = json.dumps({"bioctype": "BioCCollection", "source": head["source"],
                                 "date": head["date"], "key": head["key"], "version": "1.0",
                                 "infons": head["infons"]}, ensure_ascii=False)
            handle.write(fields[:-1] + ', "documents": [')

    def write(self, docs: Iterable[tuple[Article, Sequence[Mention]]],
              relations: dict[str, Sequence[tuple[str, str, str]]] | None = None) -> int:
        """Write documents (with `relations`: PMID -> (type, id1, id2)); returns how many."""
        n = 0
        for article, mentions in docs:
            doc = build_document(article, mentions, (relations or {}).get(article.pmid, ()),
                                 model=self.model, xml=self.xml)
            if self.xml:
                self.handle.write(etree.tostring(encode_document(doc), encoding="unicode") + "\n")
            else:
                self.handle.write(("\n" if not self.written else ",\n")
                                  + json.dumps(toJSON(doc), ensure_ascii=False))
            self.written += 1
            n += 1
        return n

    def close(self) -> None:
        self.handle.write("</collection>\n" if self.xml else "\n]}\n")

    def __enter__(self) -> BioCWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()


def write_bioc(docs: Iterable[tuple[Article, Sequence[Mention]]], handle: TextIO, fmt: str, *,
               relations: dict[str, Sequence[tuple[str, str, str]]] | None = None,
               model: str | None = None) -> int:
    """Write a whole BioC collection (`fmt`: "bioc-xml" or "bioc-json"); returns documents written."""
    with BioCWriter(handle, fmt, model=model) as writer:
        return writer.write(docs, relations)
