"""Each BioRED relation error of a setting and its cause, for attributing errors to NER, linking or
the relation model (`litmine evaluate --relations --errors`): a gold pair that none of the
setting's mentions could reach (and what became of its concept's gold mentions), one the model
missed, typed or judged novel wrongly, and each spurious pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.records import Mention
from litmine.tasks.relations.typed_gold import GoldRelations, Predicted


def _linked_as(cid: str, gold_mentions: Sequence[Mention], found: Sequence[Mention]) -> str:
    """What became of a gold concept's mentions: each distinct text and the ID the setting's
    mention at the same span carries ("no ID", or "not tagged" where no mention has the span)."""
    at = {(m.start, m.end): m for m in found}
    seen: dict[str, None] = {}
    for m in gold_mentions:
        if cid not in mention_concept_ids(m.type, m.concept_id):
            continue
        hit = at.get((m.start, m.end))
        became = ("not tagged" if hit is None else hit.concept_id or "no ID")
        seen.setdefault(f"{m.text!r} -> {became}")
    return f"{cid}: " + "; ".join(list(seen)[:3]) + (" ..." if len(seen) > 3 else "")


def list_relation_errors(predicted: Mapping[str, Predicted], gold: Mapping[str, GoldRelations],
                    gold_mentions: Mapping[str, Sequence[Mention]],
                    found: Mapping[str, Sequence[Mention]]) -> list[dict[str, Any]]:
    """Every relation error of one setting, with its cause, document by document:

    - "unreachable": a gold pair with a concept that none of the setting's mentions carries
      (NER or linking lost it); `detail` says what its gold mentions became;
    - "missed": a gold pair whose two concepts were found but not kept (the relation model);
    - "type" / "novelty": a gold pair found with another relation type / novelty;
    - "spurious": a predicted pair that is no gold relation.

    `gold_mentions` and `found`: pmid -> the gold mentions and the setting's (with their IDs).
    Predicted pairs count once (their first row), as in `score_relations`."""
    out: list[dict[str, Any]] = []
    for pmid in sorted(set(predicted) | set(gold)):
        truth, golds, mine = gold.get(pmid, {}), gold_mentions.get(pmid, ()), found.get(pmid, ())
        ids_found = {cid for m in mine for cid in mention_concept_ids(m.type, m.concept_id)}
        rows: dict[frozenset[str], tuple[str, str]] = {}
        for a, b, kind, novel in predicted.get(pmid, ()):
            if a != b:
                rows.setdefault(frozenset((a, b)), (kind, novel))
        for key, (kind, novel) in sorted(truth.items(), key=lambda kv: sorted(kv[0])):
            pair = sorted(key)
            entry = {"pmid": pmid, "pair": pair, "gold": f"{kind} {novel}".strip()}
            if key in rows:
                got_kind, got_novel = rows[key]
                if got_kind != kind:
                    out.append(entry | {"error": "type", "predicted": got_kind})
                elif got_novel != novel:
                    out.append(entry | {"error": "novelty", "predicted": got_novel})
                continue
            lost = [cid for cid in pair if cid not in ids_found]
            if lost:
                out.append(entry | {"error": "unreachable", "detail": " | ".join(
                    _linked_as(cid, golds, mine) for cid in lost)})
            else:
                out.append(entry | {"error": "missed"})
        known = {cid for m in golds for cid in mention_concept_ids(m.type, m.concept_id)}
        for key, (kind, novel) in sorted(rows.items(), key=lambda kv: sorted(kv[0])):
            if key not in truth:
                strangers = [cid for cid in sorted(key) if cid not in known]
                out.append({"pmid": pmid, "pair": sorted(key), "error": "spurious",
                            "predicted": f"{kind} {novel}".strip(),
                            **({"detail": "no gold mention carries " + ", ".join(strangers)}
                               if strangers else {})})
    return out


def format_relation_errors(errors: Sequence[Mapping[str, Any]], title: str) -> str:
    """`list_relation_errors` as text: a heading, the counts per cause, then one line per error under
    each PMID."""
    counts = Counter(e["error"] for e in errors)
    lines = [f"# {title}", "", ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "no errors"]
    current = None
    for e in errors:
        if e["pmid"] != current:
            current = e["pmid"]
            lines += ["", f"## PMID {current}"]
        what = f"{e['error'].upper():<12} {e['pair'][0]} {e['pair'][1]}"
        if "gold" in e:
            what += f"  gold: {e['gold']}"
        if "predicted" in e:
            what += f"  predicted: {e['predicted']}"
        if "detail" in e:
            what += f"  ({e['detail']})"
        lines.append(what)
    return "\n".join(lines) + "\n"
