"""Measure normalise_variant on the variant mentions of BioRED and tmVar3: share parsed, exact-ID accuracy.

    python benchmarks/variant_normalisation.py [--dev] [--misses N] [FILE.PubTator ...]

Without files it reads BioRED Train and tmVar3 Train from ../shared (skipping the PMIDs of
HOLDOUT_PMIDS.txt); --dev reads BioRED Dev instead (report it, never tune on it). A mention is a
PubTator line whose type is SequenceVariant (BioRED) or a tmVar3 variant type (DNAMutation,
ProteinMutation, SNP, DNAAllele, ProteinAllele, AcidChange, OtherMutation); its gold ID is the part
before the first ``;`` (tmVar3 appends ``;Gene:...;VariantGroup:N``).

Three figures: the share of mentions parsed, exact-ID accuracy over all mentions, and accuracy over
the mentions whose gold ID is not a dbSNP rsID written elsewhere (the ones derivable offline: a gold
ID ``rs...`` for a mention that is not itself an rsID needs dbSNP).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

from litmine.tasks.linking.variants import normalise_variant

SHARED = next((p / "shared" for p in Path(__file__).resolve().parents if (p / "shared/data/corpora").is_dir()),
              None)
VARIANT_TYPES = {"SequenceVariant", "DNAMutation", "ProteinMutation", "SNP", "DNAAllele", "ProteinAllele",
                 "AcidChange", "OtherMutation", "Variant"}


def read_variants(path: Path, skip: set[str]) -> list[tuple[str, str]]:
    """(mention text, gold ID) of every variant mention of a PubTator file, PMIDs in ``skip`` left out."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 6 and cols[4] in VARIANT_TYPES and cols[0] not in skip:
            pairs.append((cols[3], cols[5].split(";")[0].strip()))
    return pairs


def measure(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Share parsed, accuracy overall and accuracy on gold IDs that are not dbSNP look-ups."""
    parsed = correct = derivable = derivable_correct = 0
    for text, gold in pairs:
        got, _ = normalise_variant(text)
        parsed += bool(got)
        correct += got == gold
        if not (re.fullmatch(r"rs\d+", gold) and not re.search(r"rs\s?#?\d", text, re.IGNORECASE)):
            derivable += 1
            derivable_correct += got == gold
    n = len(pairs) or 1
    return {"mentions": len(pairs), "parsed": parsed / n, "accuracy": correct / n,
            "derivable": derivable, "derivable_accuracy": derivable_correct / (derivable or 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--dev", action="store_true", help="BioRED Dev instead of the training files")
    parser.add_argument("--misses", type=int, default=0, help="print N wrong derivable mentions")
    args = parser.parse_args(argv)
    files = args.files
    skip: set[str] = set()
    if not files:
        if SHARED is None:
            print("../shared/data/corpora not found: pass PubTator files", file=sys.stderr)
            return 2
        corpora = SHARED / "data/corpora"
        skip = {line.strip() for line in (corpora / "HOLDOUT_PMIDS.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
        files = ([corpora / "biored/Dev.PubTator"] if args.dev else
                 [corpora / "biored/Train.PubTator", corpora / "tmvar3_aioner/tmVar3_Train.PubTator"])
    print("python benchmarks/variant_normalisation.py" + (" --dev" if args.dev else ""))
    everything: list[tuple[str, str]] = []
    for path in files:
        pairs = read_variants(path, skip)
        everything += pairs
        report(path.name, measure(pairs))
    if len(files) > 1:
        report("all", measure(everything))
    if args.misses:
        misses = collections.Counter()
        for text, gold in everything:
            got, _ = normalise_variant(text)
            if got != gold and not (gold.startswith("rs") and not text.lower().startswith("rs")):
                misses[(text, gold, got)] += 1
        for (text, gold, got), count in misses.most_common(args.misses):
            print(f"{count:3d}  {text!r:50}  gold {gold:30}  got {got}")
    return 0


def report(name: str, figures: dict[str, float]) -> None:
    print(f"{name:28} mentions {figures['mentions']:5d}  parsed {figures['parsed']:6.1%}  "
          f"exact {figures['accuracy']:6.1%}  non-rsID gold {figures['derivable']:5d}  "
          f"exact {figures['derivable_accuracy']:6.1%}")


if __name__ == "__main__":
    sys.exit(main())
