"""Read the concept IDs that corpora and dictionaries write, per linked type, into litmine's form.

- Chemical, Disease: MeSH unique IDs (``D003000``, ``C000002``), composites "|"-joined.
- Gene: NCBI Gene IDs, plain numbers as BioRED writes them (``1576``), each with its NCBI
  Taxonomy ID when the source says it (GNormPlus writes ``40224(Tax:7227)``); a mention may list
  several (NLM-Gene ``14812,2904``; BioRED ``3078;3080``).
- Species: NCBI Taxonomy IDs, plain numbers (``9606``).
- CellLine: Cellosaurus accessions (``CVCL_0030``; BioID and BioRED, spaces stripped).

- Variant: dbSNP rsIDs (BioRED's ``rs113488022``, tmVar3's ``RS#:113488022``), the IDs a corpus
  gives a variant beside its tmVar form (`variant_rsids`); the form itself comes from the
  mention's text (`litmine.tasks.linking.variants`).
"""

from __future__ import annotations

import re

#: A MeSH unique ID: descriptor D + 6 digits (9 since 2013), supplementary record C + 6/9.
MESH_ID = re.compile(r"^[CD]\d{6}(?:\d{3})?$")
#: An NCBI Gene ID with GNormPlus' optional taxon suffix, e.g. ``40224(Tax:7227)``.
GENE_ID = re.compile(r"^(?:NCBIGene:|GeneID:)?(\d+)(?:\(Tax:(\d+)\))?$", re.IGNORECASE)
TAXON_ID = re.compile(r"^(?:NCBITaxon:|taxon:|Tax:)?(\d+)$", re.IGNORECASE)
#: A Cellosaurus accession (https://www.cellosaurus.org/): CVCL_ and four alphanumerics.
CELLOSAURUS_ID = re.compile(r"^(?:Cellosaurus:)?(CVCL_[0-9A-Z]{4})$", re.IGNORECASE)
#: A dbSNP rsID as BioRED (``rs113488022``) or tmVar3 (``RS#:113488022``) writes it.
RSID = re.compile(r"^(?:rs|RS#:)(\d+)$")
#: Separators of an ID list in one annotation.
_LIST = re.compile(r"[|,;+]")

#: The taxon a gene or species ID is read with when its source says none.
NO_TAXON = ""


def mesh_id(raw: str) -> str:
    """The MeSH ID in a corpus or CTD ID ("MESH:D003000", " D003000", "D01|D02"), or ""."""
    parts = [p.strip().removeprefix("MESH:").removeprefix("mesh:") for p in re.split(r"[|+]", raw)]
    if not parts or not all(MESH_ID.match(p) for p in parts):
        return ""
    return "|".join(dict.fromkeys(parts))


def gene_ids(raw: str) -> list[tuple[str, str]]:
    """(NCBI Gene ID, taxon or "") for each ID of a gene annotation; malformed parts ("-",
    "None") are dropped: "14812,2904" -> two IDs, "40224(Tax:7227)" -> [("40224", "7227")]."""
    out = []
    for part in _LIST.split(raw):
        m = GENE_ID.match(part.strip())
        if m and m.group(1) != "0":
            out.append((m.group(1), m.group(2) or NO_TAXON))
    return list(dict.fromkeys(out))


def taxon_id(raw: str) -> str:
    """The NCBI Taxonomy ID of a species annotation ("9606", "NCBITaxon:10090"), or "" (also
    for lists, which name no single organism)."""
    m = TAXON_ID.match(raw.strip())
    return m.group(1) if m else ""


def cellosaurus_id(raw: str) -> str:
    """The Cellosaurus accession of a cell-line annotation (" CVCL_1452" -> "CVCL_1452"), or ""."""
    m = CELLOSAURUS_ID.match(raw.strip())
    return m.group(1).upper() if m else ""


def corpus_ids(type_: str, raw: str) -> list[tuple[str, str]]:
    """(concept ID, taxon or "") of one corpus annotation of a canonical type; [] when the ID is
    missing, "-1", or of another database (OMIM for a disease)."""
    if type_ in ("Chemical", "Disease"):
        cid = mesh_id(raw)
        return [(cid, NO_TAXON)] if cid else []
    if type_ == "Gene":
        return gene_ids(raw)
    if type_ == "Species":
        cid = taxon_id(raw)
        return [(cid, cid)] if cid else []
    if type_ == "CellLine":
        cid = cellosaurus_id(raw)
        return [(cid, NO_TAXON)] if cid else []
    return []


#: Types whose concept ID is one ID even with "|" inside (tmVar's ``c|SUB|T|1799|A``).
WHOLE_ID_TYPES = frozenset({"Variant"})
#: Separators of a mention's several IDs: litmine's "|", and the corpora's "," and ";".
_MENTION_LIST = re.compile(r"[,;|]")


def mention_concept_ids(type_: str, concept_id: str | None) -> list[str]:
    """The concept IDs of one mention (stored or gold): composites ("D01|D02", BioRED's
    "3172,3651") give each part, a Variant's ID is one; "", "-" and "-1" give none."""
    raw = (concept_id or "").strip()
    parts = [raw] if type_ in WHOLE_ID_TYPES else _MENTION_LIST.split(raw)
    return [p.strip() for p in parts if p.strip() and p.strip() not in ("-", "-1")]


def variant_rsids(raw: str) -> list[str]:
    """The dbSNP rsIDs of a Variant annotation, as ``rs<N>``: "rs113488022" and
    "p|SUB|V|600|E;Gene:673;RS#:113488022" -> ["rs113488022"]; a tmVar form alone -> []."""
    found = (RSID.match(part.strip()) for part in re.split(r"[;,]", raw))
    return list(dict.fromkeys(f"rs{m.group(1)}" for m in found if m))
