"""What the CLI's commands share, defined once: the --db, --device and --dtype options, the database path,
consoles, the progress bar and quiet library logging.

The entry (`litmine/cli.py`) and every command module import from here; nothing here imports
them, so no command reaches back into the entry.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from litmine.errors import LitmineError
from litmine.progress import set_progress_hook

DbOption = Annotated[
    Optional[Path],
    typer.Option("--db", help="DuckDB file (default: $LITMINE_DB, else litmine.duckdb in the current directory)."),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]


class Dtype(str, Enum):
    """The NER weights' dtype a command asks for (litmine.tasks.loading.choose_dtype)."""

    auto = "auto"
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"


DtypeOption = Annotated[
    Optional[Dtype],
    typer.Option("--dtype", help="NER weights: auto (bf16 on CPUs with AMX or AVX512-BF16, else "
                 "fp32 with the relation heads in int8; fp16 on CUDA), fp32, fp16, bf16 or int8 "
                 "(default: $LITMINE_DTYPE, else auto)."),
]


class ResultFormat(str, Enum):
    """How a command prints its results: a rich table, or JSON for scripts."""

    table = "table"
    json = "json"


FormatOption = Annotated[ResultFormat, typer.Option("--format", help="table or json.")]

def _flags_without_a_type(params: list) -> list:
    """The params, flags showing no value type: they take none (typer 0.29's rich help prints
    `--refetch <bool>`, even `--help <bool>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def _usage_pieces(command, ctx) -> list[str]:
    """`[OPTIONS] STATEMENT`, `[NAMES]...`: arguments as click writes them, not typer 0.29's
    `{statement}` (braces read as a choice)."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            pieces.extend(param.get_usage_pieces(ctx))
            continue
        name = (param.metavar or param.name).upper()
        pieces.append((name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else ""))
    return pieces


class Command(TyperCommand):
    """A litmine command: its help shows flags without a type and arguments in capitals."""

    def get_params(self, ctx):
        return _flags_without_a_type(super().get_params(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        return _usage_pieces(self, ctx)


class Group(TyperGroup):
    """A litmine command group (the app, `watch`, `lexicon`), with the same help as Command."""

    def get_params(self, ctx):
        return _flags_without_a_type(super().get_params(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar]


class App(typer.Typer):
    """typer.Typer whose groups and commands are litmine's Group and Command: every command
    module builds its app from this, so each `--help` reads the same."""

    def __init__(self, **kwargs):
        kwargs.setdefault("cls", Group)
        super().__init__(**kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


#: Set by the app's `--debug` callback: errors keep their tracebacks, Prefect's logs too.
state = {"debug": False}
#: Messages, progress and warnings (stderr), and the core commands' results (stdout).
console = Console(stderr=True)
out = Console(soft_wrap=True)


def plain(value: object) -> str:
    """`value` as Rich shows it verbatim: None as '', and brackets escaped so that Rich does not
    read `benzo[a]pyrene` or a PubMed field tag (`all[sb]`) as markup and drop the bracket."""
    return "" if value is None else escape(str(value))


#: Where to get the corpora the README's commands name (file name prefix -> what to do);
#: data/corpora/README.md says more.
CORPUS_SOURCES = {
    "CDR_": "BC5CDR: download CDR_Data.zip from https://github.com/JHnlp/BioCreative-V-CDR-Corpus "
            "and unzip it, or try the examples on the slices shipped in data/corpora/bc5cdr/",
}


def comma_list(value: str | None) -> list[str]:
    """An option's comma-separated values, blanks dropped ("Gene, Disease," -> two)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def existing_files(paths: list[Path] | None, stage: str | None = None) -> list[str]:
    """The paths as strings, or LitmineError naming the first that is not a file (and, for a
    known corpus, where to get it)."""
    for path in paths or []:
        if not Path(path).is_file():
            where = f"{stage}: file" if stage else "input file"
            hint = next((h for prefix, h in CORPUS_SOURCES.items() if Path(path).name.startswith(prefix)),
                        "check the path")
            raise LitmineError(f"{where} {path} does not exist; {hint}")
    return [str(p) for p in paths or []]


def command_line() -> str:
    """This process's `litmine ...` command, as a model card records it."""
    return shlex.join(["litmine", *sys.argv[1:]])


def wide_console(stderr: bool = False, highlight: bool = True) -> Console:
    """A rich console; output sent to a pipe or file gets 160 columns instead of rich's 80."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(stderr=stderr, soft_wrap=True, width=width, highlight=highlight)


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


class _NoTracebacks:
    """Logging filter: keep the message, drop the traceback (the CLI prints one line instead)."""

    def filter(self, record) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def quiet_prefect_tracebacks() -> None:
    """Prefect logs failed task runs with a traceback; without --debug the user sees one line."""
    import prefect  # noqa: F401 - configures Prefect's handlers (imported here for start-up time)

    if state["debug"]:
        return
    loggers = [logging.getLogger(), *(l for l in logging.root.manager.loggerDict.values()
                                      if isinstance(l, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, _NoTracebacks) for f in handler.filters):
                handler.addFilter(_NoTracebacks())


def quiet_loading_bars(show: bool = False) -> None:
    """Transformers' tqdm bars ("Loading weights", Hub downloads) off unless `show`.

    Commands that draw their own bar (mine, refresh) pass False: a tqdm bar written under
    Rich's live display breaks it, and with --no-progress the user asked for none. The others
    pass whether stderr is a terminal: there a loading bar is a sign of life, in a pipe or log
    file it is a few hundred carriage-return frames."""
    if show:
        return
    from transformers.utils import logging as hf_logging  # start-up time: transformers is heavy

    hf_logging.disable_progress_bar()


def quiet_transformers(prefect: bool = True) -> None:
    """No transformers progress bars or warnings; with `prefect` (commands that start a flow run),
    Prefect tracebacks folded as the core commands do."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging  # start-up time: transformers is heavy

    quiet_loading_bars()
    hf_logging.set_verbosity_error()
    if prefect:
        quiet_prefect_tracebacks()


class _Progress:
    def __init__(self, description: str, on: Console | None = None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # The column formats the description into markup: escape it (a query such as all[sb]).
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=on or console,
                                 transient=True)
        self.task = self.progress.add_task(plain(description), total=None)

    def __call__(self, *, total=..., advance: int = 0):
        if total is not ...:
            self.progress.update(self.task, total=total)
        if advance:
            self.progress.advance(self.task, advance)


class progress_bar:
    """Context manager that shows a rich progress bar fed by litmine.progress while active."""

    def __init__(self, enabled: bool, description: str, on: Console | None = None):
        self.on = on or console
        self.enabled = enabled and self.on.is_terminal
        self.description = description

    def __enter__(self):
        if self.enabled:
            self.bar = _Progress(self.description, self.on)
            self.bar.progress.start()
            set_progress_hook(self.bar)
        return self

    def __exit__(self, *exc):
        set_progress_hook(None)
        if self.enabled:
            self.bar.progress.stop()
