"""The loop a researcher writes by hand from the seed skill, as the baseline `litmine mine` is
timed against (`benchmarks/e2e.py --baseline`).

Usage:
    python benchmarks/seed_loop.py INPUT.xml[.gz] DB.duckdb [--model DIR] [--batch-size 32]

Read the PubMed XML (lxml: PMID, title, abstract), run one `transformers.pipeline`
("token-classification", aggregation_strategy="simple", stride 64 for abstracts longer than
the model's window, batch 32, fp32: the pipeline as the seed writes it) over each
``title + " " + abstract``, and load articles and entities with pandas into a new DuckDB file.
No sentence splitting, linking or relations: what the hand-written loop does. Prints one JSON
line: seconds per stage and the counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

STARTED = time.perf_counter()

import duckdb
import pandas as pd
import torch
from lxml import etree
from transformers import pipeline

IMPORTED = time.perf_counter()


def read_abstracts(path: Path) -> list[dict]:
    """PMID, title and abstract of each PubmedArticle."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        root = etree.parse(handle).getroot()
    out = []
    for article in root.iter("PubmedArticle"):
        title = "".join(article.find(".//ArticleTitle").itertext()).strip()
        abstract = " ".join("".join(t.itertext()).strip() for t in article.iter("AbstractText"))
        out.append({"pmid": article.findtext(".//PMID"), "title": title, "abstract": abstract})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--model", default=str(Path(__file__).parents[1] / "data" / "models"
                                               / "litmine-ner-six-minilm-l6"))
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    seconds = {"import": IMPORTED - STARTED}

    mark = time.perf_counter()
    ner = pipeline("token-classification", model=args.model, aggregation_strategy="simple",
                   device=-1, dtype=torch.float32)
    seconds["load_model"] = time.perf_counter() - mark

    mark = time.perf_counter()
    articles = read_abstracts(args.input)
    texts = [f"{a['title']} {a['abstract']}" for a in articles]
    seconds["parse"] = time.perf_counter() - mark

    mark = time.perf_counter()
    results = ner(texts, batch_size=args.batch_size, stride=64)
    seconds["ner"] = time.perf_counter() - mark

    mark = time.perf_counter()
    rows = [{"pmid": a["pmid"], "start": e["start"], "end": e["end"], "text": e["word"],
             "type": e["entity_group"], "score": float(e["score"])}
            for a, found in zip(articles, results) for e in found]
    articles_df, entities_df = pd.DataFrame(articles), pd.DataFrame(rows)
    con = duckdb.connect(str(args.db))
    con.execute("CREATE TABLE articles AS SELECT * FROM articles_df")
    con.execute("CREATE TABLE entities AS SELECT * FROM entities_df")
    con.close()
    seconds["load"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - STARTED
    print(json.dumps({"seconds": {k: round(v, 3) for k, v in seconds.items()},
                      "articles": len(articles), "entities": len(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
