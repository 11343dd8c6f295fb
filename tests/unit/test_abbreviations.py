"""Abbreviation definitions (Schwartz & Hearst 2003) and their use on a document's mentions."""

from __future__ import annotations

import pytest

from litmine.tasks.text.abbreviations import (Abbreviation, apply_abbreviations, find_abbreviations,
                                         find_long_form, find_short_form_occurrences,
                                         is_short_form)
from litmine.tasks.records import Mention


@pytest.mark.parametrize("text, expected", [
    # "long form (SF)"
    ("Rats were given puromycin aminonucleoside (PAN) to induce nephrosis.",
     [("PAN", "puromycin aminonucleoside")]),
    # short forms with digits
    ("Patients received 5-fluorouracil (5-FU) and leucovorin.", [("5-FU", "5-fluorouracil")]),
    ("Levels of interleukin 2 (IL2) rose.", [("IL2", "interleukin 2")]),
    # "SF (long form)"
    ("5-FU (5-fluorouracil) was given daily.", [("5-FU", "5-fluorouracil")]),
    # nested parentheses: the inner definition is skipped when matching the outer one
    ("Treatment with angiotensin converting enzyme (ACE) inhibitors (ACEI) was stopped.",
     [("ACE", "angiotensin converting enzyme"),
      ("ACEI", "angiotensin converting enzyme (ACE) inhibitors")]),
    # a definition inside another parenthesis
    ("We used nitric oxide donors (sodium nitroprusside (SNP)).",
     [("SNP", "sodium nitroprusside")]),
    # content after ";" is not part of the short form
    ("Tumour necrosis factor alpha (TNF-alpha; 10 ng/ml) was added.",
     [("TNF-alpha", "Tumour necrosis factor alpha")]),
    ("The non-steroidal anti-inflammatory drugs (NSAIDs) are used.",
     [("NSAIDs", "non-steroidal anti-inflammatory drugs")]),
    # the long form never crosses a sentence end
    ("Cocaine was given. Heart rate (HR) rose.", [("HR", "Heart rate")]),
    # false definitions
    ("The effect was significant (p < 0.05) in treated rats (n = 12) as shown (Fig. 2).", []),
    ("Rats received (i) saline or (ii) drug (20 mg/kg) in saline (Sprague-Dawley).", []),
    ("Pressure fell by 20 mmHg (95% CI, 12-28) within one hour (Table 1).", []),
])
def test_find_abbreviations(text, expected):
    found = find_abbreviations(text, "1")
    assert [(a.short, a.long) for a in found] == expected
    for a in found:
        assert text[a.short_start:a.short_end] == a.short
        assert text[a.long_start:a.long_end] == a.long
        assert a.pmid == "1"


def test_first_definition_wins():
    text = "Parkinson's disease (PD) patients; protein deprived (PD) rats."
    assert [(a.short, a.long) for a in find_abbreviations(text)] == [("PD", "Parkinson's disease")]


@pytest.mark.parametrize("candidate, ok", [
    ("PAN", True), ("5-FU", True), ("IL2", True), ("TNF alpha", True),
    ("A", False), ("12", False), ("n = 12", False), ("p < 0.05", False), ("Fig. 2", False),
    ("ii", False), ("see ref 4", False), ("-PAN", False), ("a very long word", False),
])
def test_is_short_form(candidate, ok):
    assert is_short_form(candidate) is ok


def test_find_long_form_needs_first_letter_at_word_start():
    assert find_long_form("HR", "heart rate") == 0
    assert find_long_form("XY", "heart rate") is None
    # "ACE" inside parentheses cannot supply letters
    assert find_long_form("ACEI", "enzyme (ACE) inhibitors") is None


def test_short_form_occurrences_are_whole_words_with_plural():
    text = "PAN rats; PANs; SPAN; PAN-induced"
    assert find_short_form_occurrences(text, "PAN") == [(0, 3), (10, 13), (22, 25)]


# -- using the definitions -------------------------------------------------------------------------
TEXT = ("Puromycin aminonucleoside nephrosis. Rats given puromycin aminonucleoside (PAN) "
        "developed proteinuria; PAN also caused PAN-induced lesions. PAN was stopped.")


def _m(start, end, type_, text=TEXT):
    return Mention("9", start, end, text[start:end], type_, 0.9)


def _span(word, nth=0, text=TEXT):
    i = -1
    for _ in range(nth + 1):
        i = text.index(word, i + 1)
    return i, i + len(word)


def test_missing_short_forms_are_added_with_the_long_forms_type():
    abbrs = find_abbreviations(TEXT, "9")
    lf = _m(*_span("puromycin aminonucleoside"), "Chemical")
    out = apply_abbreviations(TEXT, [lf], abbrs)
    pans = [(m.start, m.end, m.type) for m in out if m.text == "PAN"]
    starts = [s for s, _ in (_span("PAN", k) for k in range(4))]
    # every standalone PAN; "PAN-induced" is a separate word form and is covered too
    assert [s for s, _, _ in pans] == starts
    assert {t for _, _, t in pans} == {"Chemical"}
    assert all(m.score == 0.9 for m in out)


def test_mistyped_short_form_is_retyped_and_partial_overlaps_are_left():
    abbrs = find_abbreviations(TEXT, "9")
    lf = _m(*_span("puromycin aminonucleoside"), "Chemical")
    wrong = _m(*_span("PAN", 1), "Disease")
    s, e = _span("PAN-induced lesions")
    partial = _m(s, e, "Disease")
    out = apply_abbreviations(TEXT, [lf, wrong, partial], abbrs)
    by_span = {(m.start, m.end): m.type for m in out}
    assert by_span[_span("PAN", 1)] == "Chemical"
    assert by_span[(s, e)] == "Disease"  # overlapping mention kept as it was
    assert _span("PAN", 2) not in by_span  # inside the partial mention: not added


def test_short_forms_of_an_untagged_long_form_are_dropped():
    # "bispectral index (BIS)": the LF is no entity, so a BIS the model tagged is none either
    abbrs = find_abbreviations(TEXT, "9")
    sf = [_m(*_span("PAN", 0), "Chemical"), _m(*_span("PAN", 1), "Disease")]
    other = _m(*_span("proteinuria"), "Disease")
    out = apply_abbreviations(TEXT, [*sf, other], abbrs)
    assert [(m.start, m.end) for m in out] == [(other.start, other.end)]
    # a mention that ends at the LF's end keeps every SF (and retypes it)
    lf_tail = _m(*_span("aminonucleoside", 1), "Chemical")
    out = apply_abbreviations(TEXT, [*sf, lf_tail], abbrs)
    assert {m.type for m in out if m.text == "PAN"} == {"Chemical"}


def test_short_form_majority_types_the_long_form_when_not_dropping():
    abbrs = find_abbreviations(TEXT, "9")
    sf = [_m(*_span("PAN", 0), "Chemical"), _m(*_span("PAN", 1), "Chemical")]
    out = apply_abbreviations(TEXT, sf, abbrs, drop_unsupported=False)
    lf_span = (abbrs[0].long_start, abbrs[0].long_end)
    assert {(m.start, m.end): m.type for m in out}[lf_span] == "Chemical"
    out = apply_abbreviations(TEXT, sf, abbrs, drop_unsupported=False, add_long_forms=False)
    assert lf_span not in {(m.start, m.end) for m in out}


def test_definitions_without_entities_change_nothing():
    abbrs = [Abbreviation("9", "HR", "heart rate", 12, 14, 0, 10)]
    text = "heart rate (HR) rose; HR fell"
    assert apply_abbreviations(text, [], abbrs) == []


def test_a_mention_that_starts_before_the_long_form_is_its_mention():
    # "sodium 2-mercaptoethane sulphonate (MESNA)": the LF found is the last two words only
    abbrs = find_abbreviations(TEXT, "9")
    s, e = _span("puromycin aminonucleoside")
    wider = _m(s - len("given "), e, "Chemical")
    sf = _m(*_span("PAN", 1), "Disease")
    out = apply_abbreviations(TEXT, [wider, sf], abbrs)
    pans = [m for m in out if m.text == "PAN"]
    assert len(pans) >= 3 and {m.type for m in pans} == {"Chemical"}


def test_every_type_is_handled_by_default():
    # "Paget's disease of bone (PDB)": the PDB the tagger called a gene is the disease
    text = "Paget's disease of bone (PDB) runs in families. PDB and SQSTM1 are linked."
    abbrs = find_abbreviations(text, "9")
    lf = _m(0, len("Paget's disease of bone"), "Disease", text)
    gene_sf = _m(*_span("PDB", 1, text), "Gene", text)
    gene = _m(*_span("SQSTM1", 0, text), "Gene", text)
    out = apply_abbreviations(text, [lf, gene_sf, gene], abbrs)
    assert [(m.text, m.type) for m in out] == [("Paget's disease of bone", "Disease"),
                                               ("PDB", "Disease"), ("PDB", "Disease"),
                                               ("SQSTM1", "Gene")]
    # handling Chemical and Disease alone (the rule before) leaves the gene-tagged PDB alone
    only = apply_abbreviations(text, [lf, gene_sf, gene], abbrs, types=("Chemical", "Disease"))
    assert ("PDB", "Gene") in [(m.text, m.type) for m in only]


def test_a_gene_short_form_of_an_untagged_long_form_is_dropped():
    text = "The bispectral index (BIS) fell; BIS stayed low."
    abbrs = find_abbreviations(text, "9")
    out = apply_abbreviations(text, [_m(*_span("BIS", 1, text), "Gene", text)], abbrs)
    assert out == []
