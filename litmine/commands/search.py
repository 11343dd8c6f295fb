"""CLI: `litmine embed` and `litmine search`: find stored abstracts by keywords (BM25), by meaning
(embeddings) or both, and sentences by meaning."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Optional

import typer

from litmine.commands.options import (DbOption, DeviceOption, FormatOption, ResultFormat,
                                      plain, quiet_transformers, shorten, wide_console)
from litmine.errors import LitmineError
from litmine.tasks.store.access import database_path

EmbedModelOption = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Sentence-embedding model: hub ID or local directory "
                                       "(default: $LITMINE_EMBED_MODEL, else the bundled "
                                       "all-MiniLM-L6-v2)."),
]


class Level(str, Enum):
    abstract = "abstract"
    sentence = "sentence"


class SearchMode(str, Enum):
    hybrid = "hybrid"
    keyword = "keyword"
    semantic = "semantic"


#: The score column of each mode's table.
SCORE_NAMES = {"hybrid": "RRF", "keyword": "BM25", "semantic": "cosine"}


class EmbedLevel(str, Enum):
    abstract = "abstract"
    sentence = "sentence"
    all = "all"


def embed(
    db: DbOption = None,
    model: EmbedModelOption = None,
    level: Annotated[EmbedLevel, typer.Option("--level", help="abstract, sentence or all.")] = EmbedLevel.all,
    device: DeviceOption = "auto",
):
    """Embed stored abstracts and sentences for `litmine search` (only new or changed texts)."""
    from litmine.tasks.model_names import resolve_model_source
    from litmine.tasks.semantic.pending import count_pending, default_embed_model

    path = database_path(db, "embed")
    levels = ["abstract", "sentence"] if level is EmbedLevel.all else [level.value]
    # Nothing to embed: say so without importing torch, loading the model or starting a flow run.
    name = resolve_model_source(model or default_embed_model(), "embed")[0]
    pending = count_pending(path, name, levels)
    if pending is not None and not any(pending.values()):
        wide_console(highlight=False).print(
            f"nothing to embed: every {' and every '.join(levels)} of {plain(path)} has a current "
            f"vector from {plain(name)}; no run started")
        return
    from litmine.flows.embed import embed as embed_flow
    from litmine.tasks.semantic.embeddings import load_embedder

    quiet_transformers()
    load_embedder(model, device=device)  # a bad model fails here, before a flow run starts
    result = embed_flow(db=str(path), model=model, levels=levels, device=device)
    done = ", ".join(f"{result.get(f'embedded_{lv}s', 0)} {lv}s" for lv in levels)
    windowed = sum(result.get(f"windowed_{lv}s", 0) for lv in levels)
    indexed = ", ".join(f"{result[f'indexed_{lv}s']:,} {lv} vectors" for lv in levels
                        if f"indexed_{lv}s" in result)
    wide_console(highlight=False).print(
        f"embedded {done} with {plain(result['model'])} ({result['dim']} dimensions) into "
        f"{plain(result['db'])}" + (f"; {windowed} texts longer than the model's limit "
                             "were embedded as windows" if windowed else "")
        + (f"; vector index up to date: {indexed}" if indexed else ""))


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many hits.")] = 10,
    mode: Annotated[Optional[SearchMode], typer.Option(
        "--mode", help="keyword (BM25 over titles and abstracts), semantic (embeddings) or "
                       "hybrid (both, reciprocal rank fusion). Default: hybrid for abstracts "
                       "(keyword when nothing is embedded), semantic for sentences.")] = None,
    level: Annotated[Level, typer.Option("--level", help="Rank abstracts or single sentences (semantic only).")] = Level.abstract,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Whose vectors (default: the model with most).")] = None,
    db: DbOption = None,
    format: FormatOption = ResultFormat.table,
    device: DeviceOption = "auto",
    exact: Annotated[bool, typer.Option(
        "--exact", help="Rank by meaning over every stored vector, not through the vector "
                        "index (`litmine index`).")] = False,
):
    """Find stored abstracts by keywords and meaning (hybrid), or sentences by meaning."""
    from litmine.tasks.semantic.lookup import find_abstracts

    quiet_transformers(prefect=False)  # search starts no flow run
    if not query.strip():
        raise LitmineError('search: the query is empty; give words to search for, e.g. '
                           '`litmine search "drug-induced liver injury"`')
    found = find_abstracts(database_path(db, "search"), query, k=k, level=level.value,
                           mode=mode.value if mode else None, model=model, device=device,
                           exact=exact)
    for note in found.notes:
        typer.echo(f"note: {note}", err=True)
    hits = found.hits
    if format is ResultFormat.json:
        wide_console(highlight=False).print_json(json.dumps([h.__dict__ for h in hits], default=str))
        return
    from rich.table import Table

    table = Table("#", SCORE_NAMES[found.mode], "PMID", "year",
                  "sentence" if level is Level.sentence else "title",
                  title=plain(f"{query!r}: top {len(hits)} {level.value}s ({found.mode})"))
    for hit in hits:
        shown = (f"[{hit.sentence_index}] {shorten(hit.text, 110)}" if level is Level.sentence
                 else shorten(hit.title, 110))
        score = f"{hit.score:.4f}" if found.mode == "hybrid" else f"{hit.score:.3f}"
        table.add_row(str(hit.rank), score, plain(hit.pmid), str(hit.year or ""), plain(shown))
    wide_console(highlight=False).print(table)


def index(
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", "-m", help="Whose vectors (default: every model stored).")] = None,
    level: Annotated[EmbedLevel, typer.Option("--level", help="abstract, sentence or all.")] = EmbedLevel.all,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build afresh, not incrementally.")] = False,
):
    """Build or update the HNSW vector index of stored embeddings (`embed` keeps it up to date
    itself; this is for files embedded before, or after --rebuild)."""
    from litmine.tasks.semantic.vector_index import index_stored_vectors

    path = database_path(db, "index")
    levels = ["abstract", "sentence"] if level is EmbedLevel.all else [level.value]
    done = index_stored_vectors(path, model=model, levels=levels, rebuild=rebuild)
    console = wide_console(highlight=False)
    for entry in done:
        console.print(f"indexed {entry['vectors']:,} {entry['level']} vectors of "
                      f"{plain(entry['model'])} in {entry['seconds']} s ({entry['added']:,} added, "
                      f"{entry['removed']:,} removed{', rebuilt' if entry['rebuilt'] else ''}): "
                      f"{plain(entry['path'])}")


def register(app: typer.Typer) -> None:
    """Add `embed`, `index` and `search` to the `litmine` app."""
    app.command(name="embed")(embed)
    app.command(name="index")(index)
    app.command(name="search")(search)
