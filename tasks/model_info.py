"""What a litmine model is, read from its files without loading it: kind, types, size, licence and
the headline scores of its card.

A directory model has its card in README.md; a one-file model (the lexicon) in `NAME.md` beside
it. Scores come from the card's `model-index` (the Hugging Face hub's metadata block:
https://huggingface.co/docs/hub/model-cards#evaluation-results) when it has one, else from the
files the trainer wrote next to the card (training.json, relation.json, docre.json), which hold
the very figures the card's tables show. Torch-free and quick: `litmine models` reads every
installed model.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # PyYAML: a dependency of Prefect

from litmine.model_packages import model_name
from litmine.tasks.relations.pair_types import RECORD_FILE, TYPER_FILE

CARD = "README.md"
ENSEMBLE_FILE = "litmine-ensemble.json"  # litmine.tasks.ner.ensemble.ENSEMBLE_FILE (not imported: numpy)


@dataclass(frozen=True)
class Score:
    """One figure of a card: what it measures, the value in percent, and on which data."""

    name: str
    value: float
    data: str = ""

    def __str__(self) -> str:
        return f"{self.name} {self.value:.2f}" + (f" ({self.data})" if self.data else "")


@dataclass(frozen=True)
class ModelInfo:
    """A model as `litmine models` lists it."""

    kind: str
    types: tuple[str, ...]
    size: int  # bytes, card included
    licence: str
    title: str = ""
    scores: tuple[Score, ...] = ()
    needs: tuple[str, ...] = field(default=())  # models it reads beside itself (an ensemble's members)


def card_path(entry: Path) -> Path:
    """The card of a model: README.md in its directory, or NAME.md beside a one-file model."""
    return entry / CARD if entry.is_dir() else entry.with_name(model_name(entry) + ".md")


def model_files(entry: Path) -> list[Path]:
    """Every file a model consists of, its card included, sorted (hidden files left out)."""
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*") if p.is_file()
                      and not any(part.startswith(".") or part == "__pycache__"
                                  for part in p.relative_to(entry).parts))
    card = card_path(entry)
    return [entry, *([card] if card.is_file() else [])]


def read_card(entry: Path) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a model's card; ({}, "") without a card."""
    path = card_path(entry)
    if not path.is_file():
        return {}, ""
    text = path.read_text(encoding="utf-8")
    if text.startswith("---\n") and "\n---\n" in text[4:]:
        head, body = text[4:].split("\n---\n", 1)
        meta = yaml.safe_load(head)
        return (meta if isinstance(meta, dict) else {}), body
    return {}, text


def describe_model(entry: str | Path) -> ModelInfo:
    """Kind, types, size, licence, title and scores of the model at `entry`."""
    entry = Path(entry)
    meta, body = read_card(entry)
    kind, types, scores, needs = _inspect(entry)
    licence = str(meta.get("license") or "")
    if licence == "other":
        licence = str(meta.get("license_name") or licence)
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), "")
    return ModelInfo(kind=kind, types=types, size=sum(p.stat().st_size for p in model_files(entry)),
                     licence=licence or "unknown", title=title,
                     scores=_card_scores(meta) or scores, needs=needs)


def _card_scores(meta: dict[str, Any]) -> tuple[Score, ...]:
    """The metrics of the card's `model-index` block."""
    scores = []
    for model in meta.get("model-index") or []:
        for result in model.get("results") or []:
            data = (result.get("dataset") or {}).get("name", "")
            scores += [Score(str(m.get("name") or m.get("type")), float(m["value"]), data)
                       for m in result.get("metrics") or [] if "value" in m]
    return tuple(scores)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _dev_name(files: list[str] | None) -> str:
    """Development files by their corpus (folder): `.../biored/Dev.PubTator` -> `biored dev`."""
    names = dict.fromkeys(Path(f).parent.name or Path(f).name for f in files or [])
    return f"{', '.join(names)} dev" if names else ""


def _inspect(entry: Path) -> tuple[str, tuple[str, ...], tuple[Score, ...], tuple[str, ...]]:
    """(kind, types, scores, needs) from the files a model of each kind has."""
    if entry.is_file():
        return "lexicon", _lexicon_types(entry), (), ()
    training = _read_json(entry / "training.json")
    dev = _dev_name((training.get("params") or {}).get("dev"))
    if (entry / ENSEMBLE_FILE).is_file():
        # A member may carry a task marker ("../model#Chemical,Disease": tasks/ner/markers.py).
        members = [str(m).rsplit("#", 1)[0]
                   for m in _read_json(entry / ENSEMBLE_FILE).get("members", [])]
        first = entry / members[0] if members else entry
        labels = _read_json(first / "config.json").get("id2label", {})
        needs = tuple(model_name(m) for m in members if m.startswith("../"))
        return "NER ensemble", _entity_types(labels), (), needs
    relation = _read_json(entry / "relation.json")
    if relation:
        named = str(relation.get("document_model") or "")
        if named.startswith("../"):  # the document member is another model (a joint head)
            needs: tuple[str, ...] = (model_name(named),)
        else:
            member = _read_json(entry / "document" / "shared.json").get("ner_model") or ""
            needs = (member,) if member.startswith("litmine-") else ()
        return f"CID relations ({relation.get('kind', 'encoder')})", ("Chemical", "Disease"), \
            _relation_scores(relation, dev), needs
    docre = _read_json(entry / "docre.json")
    typer, typer_scores = _typer(entry)
    if docre.get("kind") == "typed":
        return "BioRED relations" + typer, tuple(docre.get("entity_types", ())), \
            typer_scores + _head_alone(_typed_scores(docre, dev), typer), ()
    shared = _read_json(entry / "shared.json")
    if shared.get("task") in ("BioRED", "joint"):  # a head over a NER model's states: it needs
        joint = " and CID" if shared["task"] == "joint" else ""  # that model
        return (f"BioRED{joint} relations (on the NER pass){typer}",
                tuple(shared.get("entity_types", ())),
                typer_scores + _head_alone(_typed_scores(shared, dev), typer),
                tuple(n for n in (shared.get("ner_model"),) if n and n.startswith("litmine-")))
    config = _read_json(entry / "config.json")
    architectures = config.get("architectures") or ["unknown"]
    if architectures[0].endswith("ForTokenClassification"):
        unit = " (documents)" if config.get("litmine_unit") == "document" else ""
        micro = (training.get("final_dev") or {}).get("micro") or {}
        scores = (Score("mention F1", 100 * micro["f1"], dev),) if "f1" in micro else ()
        return "NER" + unit, _entity_types(config.get("id2label", {})), scores, ()
    return architectures[0], (), (), ()


def _entity_types(id2label: dict[str, str]) -> tuple[str, ...]:
    """The entity types of BIO labels (`B-Chemical` -> Chemical), sorted."""
    return tuple(sorted({label.split("-", 1)[1] for label in id2label.values() if "-" in label}))


def _relation_scores(config: dict[str, Any], dev: str) -> tuple[Score, ...]:
    """A CID model's F1: on dev with gold entities at its threshold, else cross-validated."""
    at = (config.get("dev_gold_entities") or {}).get("at_threshold") or {}
    if "f1" in at:
        return (Score("CID F1, gold entities", 100 * at["f1"], dev),)
    cv = config.get("cv") or {}
    return (Score("CID F1, 5-fold CV", 100 * cv["f1"], "training documents"),) if "f1" in cv else ()


def _typed_scores(config: dict[str, Any], dev: str) -> tuple[Score, ...]:
    """A BioRED model's F1 per level (pair, +type, +novelty): dev if scored, else held out."""
    levels = config.get("dev_gold_entities") or {}
    data = dev
    if not levels:
        levels, data = config.get("held_out") or {}, "held-out training documents"
    return tuple(Score(f"{level} F1, gold entities", 100 * scores["f1"], data)
                 for level, scores in levels.items() if isinstance(scores, dict) and "f1" in scores)


def _typer(entry: Path) -> tuple[str, tuple[Score, ...]]:
    """(" + pair typer" and its dev scores, from its record `pair_types.json`) when the typed
    model carries one (`litmine.tasks.relations.pair_types`), else ("", ())."""
    if not (entry / TYPER_FILE).is_file():
        return "", ()
    record = _read_json(entry / RECORD_FILE)
    dev = record.get("dev_gold_pairs") or {}
    data = _dev_name((record.get("params") or {}).get("dev"))
    scores = [Score(name, float(dev[key]), data) for key, name in (
        ("pair_f1", "pair F1, gold entities (with the typer)"),
        ("type_accuracy", "type accuracy on gold pairs (the typer)"),
        ("novelty_accuracy", "novelty accuracy on gold pairs (the typer)")) if key in dev]
    return " + pair typer", tuple(scores)


def _head_alone(scores: tuple[Score, ...], typer: str) -> tuple[Score, ...]:
    """The head's own scores, named so beside a pair typer's."""
    if not typer:
        return scores
    return tuple(Score(f"{s.name} (the head alone)", s.value, s.data) for s in scores)


def _lexicon_types(path: Path) -> tuple[str, ...]:
    """The entity types a lexicon links: the first column of its rows (# lines and the header
    skipped); ~0.4 s for the shipped 360,000 rows."""
    opener = gzip.open if path.suffix == ".gz" else open
    types: set[str] = set()
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                types.add(line.split("\t", 1)[0])
    types.discard("type")
    return tuple(sorted(types))
