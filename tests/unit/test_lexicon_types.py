"""Linking beyond MeSH: Gene (NCBI Gene), Species (NCBI Taxonomy), CellLine (Cellosaurus), and
the gene ID chosen for the organism a document mentions."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from litmine.errors import LitmineError, ParseError
from litmine.tasks.linking.concept_ids import cellosaurus_id, corpus_ids, gene_ids, taxon_id, variant_rsids
from litmine.tasks.linking.lexicon import Lexicon, build_lexicon, iter_corpus_names
from litmine.tasks.linking.name_tables import iter_gene_table_names, iter_species_table_names
from litmine.tasks.linking.coordination import split_numbered
from litmine.tasks.linking.normalise import Link, Linker, gene_symbol_key, normalise_document, normalise_name
from litmine.tasks.linking.organisms import choose_taxon, gene_taxa, sentence_of, sentence_taxa, xenograft_host
from litmine.tasks.linking.orthologs import Ortholog, read_homologene
from litmine.tasks.records import Mention

LEX = Path(__file__).resolve().parents[1] / "fixtures" / "lexicon"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw, expected", [
    ("7157", [("7157", "")]), ("40224(Tax:7227)", [("40224", "7227")]),
    ("14812,2904", [("14812", ""), ("2904", "")]), ("3078;3080", [("3078", ""), ("3080", "")]),
    ("-", []), ("", []), ("None", []),
])
def test_gene_ids(raw, expected):
    assert gene_ids(raw) == expected


@pytest.mark.parametrize("reader, raw, expected", [
    (taxon_id, "9606", "9606"), (taxon_id, "NCBITaxon:10090", "10090"), (taxon_id, "9606,10090", ""),
    (cellosaurus_id, " CVCL_1452", "CVCL_1452"), (cellosaurus_id, "CVCL_Z232", "CVCL_Z232"),
    (cellosaurus_id, "CL:0000001", ""),
])
def test_species_and_cell_line_ids(reader, raw, expected):
    assert reader(raw) == expected


def test_corpus_ids_per_type():
    assert corpus_ids("Species", "10090") == [("10090", "10090")]
    assert corpus_ids("Disease", "OMIM:604370") == []
    assert corpus_ids("Variant", "rs123") == []


@pytest.mark.parametrize("raw, expected", [
    ("rs113488022", ["rs113488022"]), ("p|SUB|V|600|E;Gene:673;RS#:113488022", ["rs113488022"]),
    ("rs1,rs2;rs1", ["rs1", "rs2"]), ("p|SUB|V|600|E", []), ("c|SUB|C||T;Gene:80013", []), ("", []),
])
def test_variant_rsids(raw, expected):
    assert variant_rsids(raw) == expected


def test_corpus_variants_give_their_tmvar_forms_rsids(tmp_path):
    text = "V600E and A>G and M404V in BRAF."
    corpus = tmp_path / "c.PubTator"
    corpus.write_text(f"1|t|{text}\n1|a|\n"
                      "1\t0\t5\tV600E\tSequenceVariant\trs113488022\n"
                      "1\t10\t13\tA>G\tSequenceVariant\trs1048943\n"  # no position: no row
                      "1\t18\t23\tM404V\tSequenceVariant\tp|SUB|M|404|V\n"  # no rsID: no row
                      "1\t27\t31\tBRAF\tGeneOrGeneProduct\t673\n\n"
                      f"2|t|{text}\n2|a|\n"
                      "2\t0\t5\tV600E\tSequenceVariant\trs113488022\n"
                      "2\t18\t23\tM404V\tSequenceVariant\trs1\n\n"
                      f"3|t|{text}\n3|a|\n"
                      "3\t18\t23\tM404V\tSequenceVariant\trs2\n\n")
    rows = [r for r in iter_corpus_names(corpus) if r[0] == "Variant"]
    assert rows == [("Variant", "p|SUB|V|600|E", "rs113488022", ""),
                    ("Variant", "p|SUB|V|600|E", "rs113488022", ""),
                    ("Variant", "p|SUB|M|404|V", "rs1", ""), ("Variant", "p|SUB|M|404|V", "rs2", "")]
    linker = Linker(build_lexicon([corpus]))
    v600e = linker.link("Val600Glu", "Variant")  # another spelling of the same form
    assert (v600e.concept_id, v600e.method, v600e.matched) == ("rs113488022", "variant-rsid",
                                                               "p|SUB|V|600|E")
    m404v = linker.link("M404V", "Variant")  # two rsIDs in the corpora: the form stays
    assert (m404v.concept_id, m404v.method) == ("p|SUB|M|404|V", "variant-rule")
    assert linker.link("A>G", "Variant").concept_id != "rs1048943"


def test_hgnc_table():
    rows = list(iter_gene_table_names(LEX / "hgnc_sample.tsv"))
    assert ("Gene", "TP53", "7157", "9606", "symbol") in rows
    assert ("Gene", "tumor protein p53", "7157", "9606", "symbol") in rows
    assert ("Gene", "p53", "7157", "9606", "synonym") in rows  # alias
    assert ("Gene", "TNFA", "7124", "9606", "synonym") in rows  # previous symbol
    assert not any(name == "A12M1" for _, name, *_ in rows)  # withdrawn entry


def test_mgi_table_is_refused_for_want_of_gene_ids():
    with pytest.raises(ParseError, match="no NCBI Gene ID column"):
        list(iter_gene_table_names(LEX / "mgi_sample.tsv"))


def test_species_tables():
    rows = list(iter_species_table_names(LEX / "species_sample.tsv"))
    assert ("Species", "mice", "10090", "10090", "symbol") in rows and len(rows) == 5
    shipped = {name: taxon for _, name, taxon, *_ in
               iter_species_table_names(REPO / "data" / "linking" / "common-species.tsv")}
    assert shipped["patients"] == "9606" and shipped["murine"] == "10090" and shipped["rats"] == "10116"


def test_species_table_needs_its_header(tmp_path):
    bad = tmp_path / "species.tsv"
    bad.write_text("9606\thuman\n", encoding="utf-8")
    with pytest.raises(ParseError, match="taxon_id name"):
        list(iter_species_table_names(bad))


def test_corpus_names_of_every_linked_type():
    rows = set(iter_corpus_names(LEX / "genes_sample.pubtator"))
    assert ("Gene", "Trp53", "22059", "10090") in rows
    # an ID list; without (Tax:N), the organism the document annotates (patients: human)
    assert {("Gene", "NR2B", "14812", "9606"), ("Gene", "NR2B", "2904", "9606")} <= rows
    assert ("CellLine", "HeLa", "CVCL_0030", "") in rows  # " CVCL_0030": space stripped
    assert ("Species", "patients", "9606", "9606") in rows


@pytest.fixture(scope="module")
def lexicon():
    return build_lexicon([LEX / "genes_sample.pubtator"], genes=[LEX / "hgnc_sample.tsv"],
                         species=[LEX / "species_sample.tsv"])


@pytest.fixture(scope="module")
def linker(lexicon):
    return Linker(lexicon)


def test_lexicon_keeps_gene_taxa_through_save_and_load(lexicon, tmp_path):
    assert lexicon.taxa[("Gene", "22059")] == "10090" and lexicon.taxa[("Gene", "7157")] == "9606"
    back = Lexicon.load(lexicon.save(tmp_path / "lex.tsv.gz"))
    assert back.counts == lexicon.counts and back.taxa == lexicon.taxa


def test_five_column_lexicon_still_loads(tmp_path):
    old = tmp_path / "old.tsv.gz"
    with gzip.open(old, "wt", encoding="utf-8") as handle:
        handle.write("# source order: corpus:x/y\ntype\tconcept_id\tname\tsource\tcount\n"
                     "Chemical\tD003000\tClonidine\tcorpus:x/y\t2\n")
    lex = Lexicon.load(old)
    assert lex.counts[("Chemical", "D003000", "Clonidine", "corpus:x/y")] == 2 and lex.taxa == {}
    assert Linker(lex).link("clonidine", "Chemical").concept_id == "D003000"


def test_gene_symbols_are_exact_first_and_never_fuzzy(linker):
    assert linker.link("TP53", "Gene").concept_id == "7157"
    assert linker.link("CAT", "Gene").concept_id == "847"
    cat = linker.link("cat", "Gene")  # the word, not catalase
    assert cat.concept_id == "" and cat.status == "short-lowercase"
    near = linker.link("TP53X", "Gene")
    assert near.concept_id == "" and near.method == "none" and near.reason.startswith("no-match")
    assert linker.link("tumour protein p53", "Gene").concept_id == ""  # one word off: no fuzzy


def test_short_lowercase_words_link_only_as_written(tmp_path):
    lexicon_file = tmp_path / "lex.tsv.gz"
    with gzip.open(lexicon_file, "wt", encoding="utf-8") as handle:
        handle.write("# source order: corpus:x/y\ntype\tconcept_id\tname\tsource\tcount\n"
                     "Chemical\tD002996\tCC\tcorpus:x/y\t8\n"
                     "Chemical\tD002996\tclomiphene citrate\tcorpus:x/y\t3\n"
                     "Chemical\tD008094\tLi\tcorpus:x/y\t2\n")
    linker = Linker(Lexicon.load(lexicon_file))
    assert linker.link("CC", "Chemical").concept_id == "D002996"  # exact
    cc = linker.link("cc", "Chemical")  # a unit: neither normalised nor fuzzy
    assert cc.concept_id == "" and cc.status == "short-lowercase" and "'cc'" in cc.reason
    assert linker.link("li", "Chemical").concept_id == ""
    assert linker.link("LI", "Chemical").concept_id == "D008094"  # not lowercase: normalised
    assert linker.link("Clomiphene citrates", "Chemical").concept_id == "D002996"


def test_gene_names_are_not_singularised(linker):
    assert normalise_name("TNFRS", singularise=False) == "tnfrs"
    assert normalise_name("TNFRS") == "tnfr"
    assert linker.link("Tnf-alpha", "Gene").concept_id == "7124"  # normalised, not singularised


def test_species_and_cell_lines_link(linker):
    assert linker.link("Mice", "Species").concept_id == "10090"
    assert linker.link("HeLa", "CellLine").concept_id == "CVCL_0030"
    assert linker.link("V600E", "Variant").status == "variant-rule"


def _mentions(text: str, spans: list[tuple[str, str]]) -> list[Mention]:
    out, at = [], 0
    for word, type_ in spans:
        start = text.index(word, at)
        out.append(Mention("9", start, start + len(word), word, type_))
        at = start + len(word)
    return out


@pytest.mark.parametrize("text, spans, expected", [
    ("p53 was knocked out in mice.", [("p53", "Gene"), ("mice", "Species")], "22059"),
    ("p53 is mutated in many tumours.", [("p53", "Gene")], "7157"),  # no organism: human
    ("p53 in patients and mice; patients", [("p53", "Gene"), ("patients", "Species"), ("mice", "Species"),
                                            ("patients", "Species")], "7157"),  # most-mentioned
    ("TNF levels in mice", [("TNF", "Gene"), ("mice", "Species")], "21926"),  # TNF vs mouse Tnf
])
def test_gene_id_follows_the_documents_organism(linker, text, spans, expected):
    out, links = normalise_document(text, _mentions(text, spans), linker)
    assert out[0].concept_id == expected
    assert links[0].method in ("exact", "normalised", "species")


def test_species_choice_is_recorded(linker):
    text = "TNF levels in mice"
    out, links = normalise_document(text, _mentions(text, [("TNF", "Gene"), ("mice", "Species")]), linker)
    assert (out[0].concept_id, out[0].link_status) == ("21926", "species")
    assert (out[1].concept_id, out[1].link_status) == ("10090", "exact")


# -- gene organisms from BioRED-style corpora, Greek letters as symbol initials ----------------
def test_corpus_gene_ids_take_the_documents_organism():
    rows = set(iter_corpus_names(LEX / "genes_taxa_sample.pubtator"))
    assert ("Gene", "IL-6", "16193", "10090") in rows  # BioRED writes no (Tax:N); mice x3
    assert ("Gene", "IL6", "3569", "10090") in rows  # a guess: the gene table corrects it
    assert ("Gene", "IL-6", "3569", "") in rows  # patients 1, rats 1: a tie names none


@pytest.fixture(scope="module")
def taxa_linker():
    lex = build_lexicon([LEX / "genes_taxa_sample.pubtator"], genes=[LEX / "hgnc_taxa_sample.tsv"],
                        species=[LEX / "species_sample.tsv"])
    assert lex.taxa[("Gene", "16193")] == "10090"
    assert lex.taxa[("Gene", "3569")] == "9606"  # HGNC's organism outranks the corpus' guess
    return Linker(lex)


@pytest.mark.parametrize("text, expected", [
    ("TNF-alpha", "tnfa"), ("TGF-β1", "tgfb1"), ("IL-1 beta", "il1b"), ("IFN gamma", "ifng"),
    ("NF-kappaB", "nfkappab"),  # "kappab" is not a Greek letter on its own
    ("tau", "tau"), ("alpha-synuclein", "alphasynuclein"),  # a first word stays spelt out
])
def test_gene_symbol_key(text, expected):
    assert gene_symbol_key(normalise_name(text, singularise=False)) == expected


@pytest.mark.parametrize("text, expected", [
    ("TGF-beta1", "7040"), ("TGF-β1", "7040"), ("TGF beta 1", "7040"), ("Tgf-beta1", "7040"),
    ("p53", "7157"), ("TP53", "7157"),
])
def test_greek_spelt_out_links_to_the_symbol(taxa_linker, text, expected):
    assert taxa_linker.link(text, "Gene").concept_id == expected


@pytest.mark.parametrize("text, spans, expected", [
    # "IL6" is HGNC's human symbol; the mouse ID is the corpus' "IL-6": one symbol key, "il6"
    ("IL6 in knockout mice", [("IL6", "Gene"), ("mice", "Species")], "16193"),
    ("IL6 in patients", [("IL6", "Gene"), ("patients", "Species")], "3569"),
    ("IL-6 levels", [("IL-6", "Gene")], "3569"),  # no organism: human
])
def test_gene_organism_choice_spans_spellings(taxa_linker, text, spans, expected):
    out, _ = normalise_document(text, _mentions(text, spans), taxa_linker)
    assert out[0].concept_id == expected


# -- other organisms' genes from NCBI HomoloGene ------------------------------------------------
@pytest.fixture(scope="module")
def homolog_lexicon():
    return build_lexicon(genes=[LEX / "hgnc_sample.tsv"], species=[LEX / "species_sample.tsv"],
                         homologs=[LEX / "homologene_sample.data"])


def test_homologene_rows_and_their_errors(tmp_path):
    rows = list(read_homologene(LEX / "homologene_sample.data"))
    assert rows[1] == Ortholog("28", "10090", "11835", "Ar") and rows[-1].symbol == ""
    bad = tmp_path / "homologene.data"
    bad.write_text("28\t9606\t367\tAR\t1\tNP_1\n28\tmouse\t11835\tAr\t2\tNP_2\n")
    with pytest.raises(ParseError, match=r"homologene.data line 2 is not a HomoloGene row"):
        list(read_homologene(bad))


def test_orthologs_take_their_own_symbol_and_the_human_genes_names(homolog_lexicon):
    rows = {(name, cid, source.split(":")[0]) for (t, cid, name, source) in homolog_lexicon.counts
            if t == "Gene"}
    for cid in ("22059", "24842", "30590"):  # mouse, rat, zebrafish TP53
        assert {("TP53", cid, "homologs"), ("tumor protein p53", cid, "homologs")} <= rows
    assert {("Trp53", "22059", "homologs"), ("Tp53", "24842", "homologs")} <= rows
    # HGNC's aliases that name no other gene reach the orthologs too ("p53", "LFS1")
    assert {("p53", "22059", "homologs"), ("LFS1", "24842", "homologs")} <= rows
    # AR is not in the HGNC sample: its orthologs have only their own symbols
    assert {name for name, cid, _ in rows if cid == "11835"} == {"Ar"}
    taxa = homolog_lexicon.taxa
    assert (taxa[("Gene", "22059")], taxa[("Gene", "24842")], taxa[("Gene", "7157")]) == \
        ("10090", "10116", "9606")
    only_rat = build_lexicon(genes=[LEX / "hgnc_sample.tsv"], homologs=[LEX / "homologene_sample.data"],
                             homolog_taxa=("10116",))
    assert {cid for (t, cid, _, s) in only_rat.counts if s.startswith("homologs")} == {"24842", "24208"}


def test_an_alias_that_names_another_gene_stays_with_the_human_gene(tmp_path):
    hgnc = (LEX / "hgnc_sample.tsv").read_text(encoding="utf-8").splitlines()
    # a second human gene that HGNC also calls "LFS1": the alias is ambiguous
    other = hgnc[-2].replace("HGNC:11998\tTP53\ttumor protein p53", "HGNC:99\tXLF1\tx factor 1")
    other = other.replace("p53, LFS1\t7157", "LFS1\t99001")
    assert other != hgnc[-2] and "99001" in other
    genes = tmp_path / "hgnc.tsv"
    genes.write_text("\n".join([*hgnc, other]) + "\n", encoding="utf-8")
    lex = build_lexicon(genes=[genes], species=[LEX / "species_sample.tsv"],
                        homologs=[LEX / "homologene_sample.data"])
    names = {name for (t, cid, name, s) in lex.counts
             if cid == "22059" and s.startswith("homologs")}
    assert "p53" in names and "LFS1" not in names
    for text, expected in (("p53 in mice", {"22059"}),
                           ("LFS1 in mice", {"7157", "99001"})):  # not a mouse ortholog
        gene = text.split()[0]
        out, _ = normalise_document(text, _mentions(text, [(gene, "Gene"), ("mice", "Species")]),
                                    Linker(lex))
        assert out[0].concept_id in expected, text


def test_an_alias_that_only_an_ortholog_shares_reaches_the_other_orthologs(tmp_path):
    """A corpus that calls the rat gene "LFS1" names the same ortholog group, not another gene:
    the alias still reaches the mouse gene (as "adiponectin" does: rat Adipoq in NLM-Gene)."""
    corpus = tmp_path / "rat.pubtator"
    corpus.write_text("1|t|LFS1 in rats.\n1|a|\n1\t0\t4\tLFS1\tGene\t24842\n"
                      "1\t8\t12\trats\tSpecies\t10116\n\n", encoding="utf-8")
    lex = build_lexicon([corpus], genes=[LEX / "hgnc_sample.tsv"],
                        species=[LEX / "species_sample.tsv"],
                        homologs=[LEX / "homologene_sample.data"])
    names = {name for (t, cid, name, s) in lex.counts
             if cid == "22059" and s.startswith("homologs")}
    assert "LFS1" in names
    text = "LFS1 in mice"
    out, _ = normalise_document(text, _mentions(text, [("LFS1", "Gene"), ("mice", "Species")]),
                                Linker(lex))
    assert out[0].concept_id == "22059"


@pytest.mark.parametrize("text, spans, expected, method", [
    ("p53 in mice", [("p53", "Gene"), ("mice", "Species")], "22059", "species"),  # HGNC alias
    ("tumor protein p53 in mice", [("tumor protein p53", "Gene"), ("mice", "Species")], "22059",
     "species"),  # HGNC's name, moved to the mouse ortholog that only HomoloGene knows
    ("tumor protein p53 in patients", [("tumor protein p53", "Gene"), ("patients", "Species")],
     "7157", "exact"),
    ("tumor protein p53 levels", [("tumor protein p53", "Gene")], "7157", "exact"),  # human
    ("Trp53 levels", [("Trp53", "Gene")], "22059", "exact"),  # the mouse symbol
    # written as mouse and rat symbols are (rat's Tp53), no organism named: mouse before human
    ("Tp53 levels", [("Tp53", "Gene")], "22059", "species"),
    ("Tp53 in patients", [("Tp53", "Gene"), ("patients", "Species")], "7157", "species"),
])
def test_gene_names_reach_the_orthologs_of_the_documents_organism(homolog_lexicon, text, spans,
                                                                  expected, method):
    out, links = normalise_document(text, _mentions(text, spans), Linker(homolog_lexicon))
    assert (out[0].concept_id, links[0].method) == (expected, method)


def test_a_gene_of_the_documents_organism_stays(homolog_lexicon):
    linker = Linker(homolog_lexicon)
    link = Link("7157", "exact", alternatives=(("10090", "22059"), ("9606", "1111")))
    assert choose_taxon(link, ["9606"], linker) is link  # not moved to another human gene
    assert choose_taxon(link, ["10090", "9606"], linker).concept_id == "22059"


@pytest.mark.parametrize(("text", "named", "expected"), [
    ("Sox2", [], ["10090", "9606"]),             # mouse style, no organism named
    ("Nanog", ["4932"], ["4932", "10090", "9606"]),  # yeast named, but not for this gene
    ("Sox2", ["9606"], ["9606"]),                # the document names human: its style is moot
    ("Sox2", ["10116", "9606"], ["10116", "9606"]),
    ("Sox2", ["10090"], ["10090", "9606"]),
    ("SOX2", [], ["9606"]),                      # human style
    ("p53", [], ["9606"]),                       # neither: human, GNormPlus' default
    ("IL-6", [], ["9606"]),
    ("Ctr9", [], ["10090", "9606"]),
])
def test_gene_taxa_put_mouse_before_the_default_for_mouse_style_symbols(text, named, expected):
    assert gene_taxa(text, named) == expected


def test_a_gene_takes_the_organism_of_its_own_sentence_first(homolog_lexicon):
    """Patients twice, rats once: a gene in the rats' sentence is the rat gene, one in a
    sentence that names no organism the document's (human), and one beside mice the mouse's."""
    text = ("Patients with p53 loss were studied. Other patients were too. In rats, p53 fell. "
            "p53 rose. In mice p53 rose.")
    spans = [("Patients", "Species"), ("p53", "Gene"), ("patients", "Species"), ("rats", "Species"),
             ("p53", "Gene"), ("p53", "Gene"), ("mice", "Species"), ("p53", "Gene")]
    linker = Linker(homolog_lexicon)
    assert linker.link("rats", "Species").concept_id == "10116"
    out, _ = normalise_document(text, _mentions(text, spans), linker)
    assert [m.concept_id for m in out if m.type == "Gene"] == ["7157", "24842", "7157", "22059"]
    # one sentence for the whole text: the document's most-named organism, as before the rule
    whole, _ = normalise_document(text, _mentions(text, spans), linker, sentences=[(0, len(text))])
    assert {m.concept_id for m in whole if m.type == "Gene"} == {"7157"}


@pytest.mark.parametrize("text, expected", [
    ("Tumours grew in nude mice. p53 was lost.", "7157"),  # the grafted human cells' gene
    ("Cells were xenografted into NOD/SCID mice. p53 was lost.", "7157"),
    ("Tumours grew in mice. p53 was lost.", "22059"),
])
def test_the_host_of_a_xenograft_is_not_the_genes_organism(homolog_lexicon, text, expected):
    spans = [("mice", "Species"), ("p53", "Gene")]
    out, _ = normalise_document(text, _mentions(text, spans), Linker(homolog_lexicon))
    assert out[1].concept_id == expected
    assert xenograft_host(text, out[0]) is (expected == "7157")


def test_sentence_taxa_rank_each_sentences_organisms():
    text = "Mice and rats and mice. No organism. Humans."
    spans = [("Mice", "Species"), ("rats", "Species"), ("mice", "Species"), ("Humans", "Species")]
    links = [Link(cid, "exact") for cid in ("10090", "10116", "10090", "9606")]
    starts = [0, 24, 37]  # the sentences (0, 23), (24, 36), (37, 44)
    assert sentence_taxa(_mentions(text, spans), links, starts) == [["10090", "10116"], [],
                                                                    ["9606"]]
    assert [sentence_of(i, [0, 24, 37]) for i in (0, 23, 24, 40, -5)] == [0, 0, 1, 2, 0]
    assert sentence_taxa(_mentions(text, spans), links, []) == []
    assert gene_taxa("Sox2", ["9606"], ["10116"]) == ["10116", "9606"]


def test_homolog_taxa_option_names_what_is_wrong():
    from litmine.commands.relations import _taxa

    assert _taxa("10090, 10116") == ("10090", "10116")
    with pytest.raises(LitmineError, match="--homolog-taxa takes NCBI Taxonomy IDs"):
        _taxa("mouse,rat")


def test_each_organisms_alternative_comes_from_the_best_ranked_source():
    lex = Lexicon()
    for source in ("corpus:a", "corpus:b"):
        lex.add_source(source)
    lex.add("Gene", "p62", "8878", "corpus:a", taxon="9606")  # SQSTM1, ranked first
    lex.add("Gene", "P62", "18412", "corpus:a", count=3, taxon="10090")
    lex.add("Gene", "p62", "23636", "corpus:b", count=5, taxon="9606")  # heavier, ranked lower
    link = Linker(lex).link("p62", "Gene")
    assert link.concept_id == "8878"
    assert dict(link.alternatives) == {"9606": "8878", "10090": "18412"}


# -- gene names with coordinated numbers ("ERK1/2") ---------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("ERK1/2", ["ERK1", "ERK2"]), ("caspase-3/7", ["caspase-3", "caspase-7"]),
    ("MMP-2 and -9", ["MMP-2", "MMP-9"]), ("Smad1/5/8", ["Smad1", "Smad5", "Smad8"]),
    ("FGF-2, -3, and -18", ["FGF-2", "FGF-3", "FGF-18"]), ("ROCK-I/II", ["ROCK-I", "ROCK-II"]),
    ("MEK 1/2", ["MEK 1", "MEK 2"]),
    ("IL-6", []), ("5-HT 2A/2C receptor", []), ("CD4/CD8", []), ("TGF-beta1", []),
])
def test_split_numbered(text, expected):
    assert split_numbered(text) == expected


@pytest.fixture(scope="module")
def erk_linker():
    lex = Lexicon()
    lex.add_source("corpus:a")
    for name, human, mouse in (("ERK1", "5595", "26417"), ("ERK2", "5594", "26413")):
        lex.add("Gene", name, human, "corpus:a", count=2, taxon="9606")
        lex.add("Gene", name, mouse, "corpus:a", taxon="10090")
    lex.add("Gene", "MEK1", "5604", "corpus:a", taxon="9606")
    lex.add("Gene", "MEK2", "5605", "corpus:a", taxon="9606")
    lex.add("Gene", "MEK1/2", "5605", "corpus:a", taxon="9606")  # a corpus' "5604;5605", one kept
    lex.add("Gene", "F4/80", "13733", "corpus:a", taxon="10090")
    lex.add("Gene", "F4", "1", "corpus:a", taxon="9606")
    lex.add("Gene", "F80", "2", "corpus:a", taxon="9606")
    lex.add("Species", "mice", "10090", "corpus:a")
    return Linker(lex)


def test_a_gene_name_with_coordinated_numbers_links_every_gene(erk_linker):
    link = erk_linker.link("ERK1/2", "Gene")
    assert (link.concept_id, link.method, link.matched) == ("5595|5594", "composite", "ERK1 + ERK2")
    assert dict(link.alternatives) == {"9606": "5595|5594", "10090": "26417|26413"}
    assert erk_linker.taxon("5595|5594") == "9606" and erk_linker.taxon("5595|26413") == ""
    # a lexicon name whose ID is one of its parts' means every part; one of its own stays
    assert erk_linker.link("MEK1/2", "Gene").concept_id == "5604|5605"
    assert erk_linker.link("F4/80", "Gene").concept_id == "13733"
    assert erk_linker.link("ERK1/3", "Gene").concept_id == ""  # every part must link
    text = "ERK1/2 was phosphorylated in mice."
    out, links = normalise_document(text, _mentions(text, [("ERK1/2", "Gene"), ("mice", "Species")]),
                                    erk_linker)
    assert (out[0].concept_id, links[0].method) == ("26417|26413", "species")


def test_a_corpus_id_of_an_unknown_organism_moves_to_the_documents_organism():
    lex = Lexicon()
    lex.add_source("corpus:a")
    lex.add_source("genes:b")
    lex.add("Gene", "DMC1", "821860", "corpus:a", count=3)  # a corpus' ID, its organism unwritten
    lex.add("Gene", "DMC1", "11144", "genes:b", taxon="9606")
    lex.add("Gene", "Dmc1", "13404", "genes:b", taxon="10090")
    for name, taxon in (("women", "9606"), ("mice", "10090"), ("rice", "4530")):
        lex.add("Species", name, taxon, "corpus:a")
    linker = Linker(lex)
    assert linker.link("DMC1", "Gene").concept_id == "821860" and linker.taxon("821860") == ""
    for text, expected in (("DMC1 in women", "11144"), ("DMC1 in mice", "13404"),
                           ("DMC1 in rice", "11144")):  # no rice ID: the human default
        species = text.split()[-1]
        out, links = normalise_document(text, _mentions(text, [("DMC1", "Gene"), (species, "Species")]),
                                        linker)
        assert (out[0].concept_id, links[0].method) == (expected, "species"), text
