import pytest

from litmine.tasks.relations.pairs import normalise_surface, pair_chemicals_with_diseases
from litmine.tasks.records import Mention


def m(pmid, sentence, text, type_, start=0):
    return Mention(pmid=pmid, start=start, end=start + len(text), text=text, type=type_,
                   sentence_index=sentence)


@pytest.mark.parametrize("raw, expected", [
    ("Cisplatin", "cisplatin"),
    ("  renal \n failure ", "renal failure"),
    ("TNF-α", "tnf-α"),
    ("STRASSE", "strasse"),  # casefold, not lower: ß-style folding
])
def test_normalise_surface(raw, expected):
    assert normalise_surface(raw) == expected


def test_pairs_only_within_a_sentence_and_aggregated_per_document():
    mentions = [
        m("1", 0, "Cisplatin", "Chemical"), m("1", 0, "nephrotoxicity", "Disease", 20),
        m("1", 2, "cisplatin", "Chemical"), m("1", 2, "Nephrotoxicity", "Disease", 30),
        m("1", 2, "cisplatin", "Chemical", 50),  # twice in one sentence counts once
        m("1", 3, "furosemide", "Chemical"),  # no disease in sentence 3
        m("1", 4, "hypertension", "Disease"),
        m("2", 0, "cisplatin", "Chemical"), m("2", 0, "ototoxicity", "Disease", 12),
        m("2", 0, "TP53", "Gene", 30),
    ]
    pairs = pair_chemicals_with_diseases(mentions)
    assert [(p.pmid, p.chemical, p.disease, p.n_sentences, p.sentence_indexes) for p in pairs] == [
        ("1", "cisplatin", "nephrotoxicity", 2, (0, 2)),
        ("2", "cisplatin", "ototoxicity", 1, (0,)),
    ]
    assert {p.method for p in pairs} == {"cooccurrence"}


def test_no_pairs_without_both_types():
    assert pair_chemicals_with_diseases([m("1", 0, "aspirin", "Chemical")]) == []
    assert pair_chemicals_with_diseases([]) == []
