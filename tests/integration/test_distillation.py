"""`train_ner` with a teacher: a student trained on the teacher's probabilities alone learns
what the teacher tags and the gold does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from litmine.tasks.ner.engine import load_tagger
from tests.support.tiny_models import LOOKUP, build_lookup_model


@pytest.fixture(scope="module")
def lookup_model(tiny_ner_model, tmp_path_factory) -> Path:
    return build_lookup_model(tiny_ner_model, tmp_path_factory.mktemp("teacher") / "m", LOOKUP)


def test_a_student_learns_what_only_the_teacher_tags(lookup_model, tiny_ner_model, tmp_path):
    """Gold that tags nothing, a teacher that tags lithium and tremor: with the teacher's whole
    weight the student tags them too; without a teacher it learns to tag nothing."""
    from litmine.tasks.training.ner import train_ner

    lines = []
    for pmid in range(1, 13):
        title = f"Lithium causes tremor in patient group {pmid}."
        lines += [f"{pmid}|t|{title}", f"{pmid}|a|Tremor went away when lithium stopped.", ""]
    plain = tmp_path / "plain.pubtator"  # no annotation at all
    plain.write_text("\n".join(lines) + "\n")
    dev = tmp_path / "dev.pubtator"  # what the teacher tags, for the epoch choice
    dev.write_text("99|t|Lithium and tremor.\n99|a|None.\n99\t0\t7\tlithium\tChemical\tx\n"
                   "99\t12\t18\ttremor\tDisease\tx\n\n")
    common = dict(base_model=str(tiny_ner_model), types=["Chemical", "Disease"], epochs=6,
                  lr=5e-3, batch_size=4, max_length=64, patience=6, device="cpu",
                  precision="fp32", progress=False)
    taught = train_ner([str(plain)], [str(dev)], tmp_path / "taught", teacher=str(lookup_model),
                       teacher_weight=1.0, **common)
    alone = train_ner([str(plain)], [str(dev)], tmp_path / "alone", **common)
    assert taught.params["teacher_model_id"].startswith(str(lookup_model))
    assert "Distilled from the teacher" in (tmp_path / "taught" / "README.md").read_text()
    text = ["Lithium causes tremor in patient group 40."]  # a context of the training texts
    found = load_tagger(str(tmp_path / "taught"), device="cpu", dtype="fp32").tag_texts(text)[0]
    assert {(text[0][s:e], t) for s, e, t, _ in found} == {("Lithium", "Chemical"),
                                                           ("tremor", "Disease")}
    assert load_tagger(str(tmp_path / "alone"), device="cpu", dtype="fp32").tag_texts(text) == [[]]
    assert alone.final["micro"]["f1"] in (0, None)
