"""Where litmine's own models are: an installed model package, or a source checkout's data/models.

Every shipped model (the NER models, the lexicon, the relation models) is also a Python
distribution named like the model (`pip install litmine-ner-six-minilm-l6`), the way scispaCy
ships `en_core_sci_sm`. A model package installs its files into one folder shared by all of them,
`site-packages/litmine_models/`, laid out as `data/models/` is in a checkout (so an ensemble's
`../member` still finds its member), and announces itself with an entry point in the group
`litmine.models` named like the model (tasks/model_wheels.py writes them).

A model's name (a value without a slash that is no existing path) is looked up in the checkout's
data/models first, so that a checkout works as it did before models were packaged, then in the
installed packages. Finding a model imports nothing: entry points and file paths only.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from litmine.errors import ModelNotInstalledError

#: The entry point group a model package registers in; each entry's name is the model's name.
ENTRY_POINT_GROUP = "litmine.models"
#: The folder (under site-packages) every model package installs its model into.
PACKAGE_FOLDER = "litmine_models"
#: The prefix of every model litmine ships: a missing one is an install problem, not a hub ID.
SHIPPED_PREFIX = "litmine-"
#: The checkout's models folder, when litmine runs from a source checkout (None when installed).
_CHECKOUT = Path(__file__).resolve().parent.parent / "data" / "models"
CHECKOUT_MODELS: Path | None = _CHECKOUT if _CHECKOUT.is_dir() else None


@dataclass(frozen=True)
class ShippedModel:
    """A model found by name: where it is, and where it came from."""

    name: str
    path: Path  # a directory, or one file (the lexicon)
    source: str  # "checkout" or "package"
    distribution: str | None = None  # the model package's name (source "package")
    version: str | None = None  # the model package's version (source "package")


def model_name(entry: str | Path) -> str:
    """A model's name from its file or folder name: `litmine-lexicon-mesh.tsv.gz` ->
    `litmine-lexicon-mesh` (model names hold no dots; the suffixes are the file's format)."""
    return Path(entry).name.split(".", 1)[0]


def find_entry(folder: Path, name: str) -> Path | None:
    """The model `name` in a models folder: the directory `name`, else the file `name.<suffixes>`
    (a card `name.md` beside a file model is not the model)."""
    directory = folder / name
    if directory.is_dir():
        return directory
    files = sorted(p for p in folder.glob(f"{name}.*") if p.is_file() and p.suffix != ".md")
    return files[0] if files else None


def folder_entries(folder: Path) -> list[Path]:
    """The models in a models folder: directories and model files, not cards, training staging
    folders (`*.training`) or hidden files."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir())
            if not p.name.startswith(".") and not p.name.endswith(".training")
            and (p.is_dir() or (p.is_file() and p.suffix != ".md"))]


def checkout_models() -> dict[str, ShippedModel]:
    """The models of the checkout's data/models, by name (none when litmine is installed)."""
    if CHECKOUT_MODELS is None:
        return {}
    return {model_name(p): ShippedModel(model_name(p), p, "checkout")
            for p in folder_entries(CHECKOUT_MODELS)}


def packaged_models() -> dict[str, ShippedModel]:
    """The models of the installed model packages, by name (the first on sys.path wins)."""
    found: dict[str, ShippedModel] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in found or point.dist is None:
            continue
        entry = find_entry(Path(point.dist.locate_file(PACKAGE_FOLDER)), point.name)
        if entry is not None:
            found[point.name] = ShippedModel(point.name, entry, "package", point.dist.name,
                                             point.dist.version)
    return found


def shipped_models() -> list[ShippedModel]:
    """Every model findable by name, sorted by name; a checkout's copy hides a package's."""
    models = {**packaged_models(), **checkout_models()}
    return [models[name] for name in sorted(models)]


def find_model(name: str) -> ShippedModel | None:
    """The model called `name` (a file name such as `litmine-lexicon-mesh.tsv.gz` also names it):
    the checkout's copy, else an installed package's, else None."""
    name = model_name(name)
    if CHECKOUT_MODELS is not None and (entry := find_entry(CHECKOUT_MODELS, name)) is not None:
        return ShippedModel(name, entry, "checkout")
    return packaged_models().get(name)


def is_name(value: str) -> bool:
    """Whether `value` may be a model's name rather than a path: no slash, no leading dot or tilde."""
    return bool(value) and "/" not in value and "\\" not in value and not value.startswith((".", "~"))


def locate_model(value: str, stage: str, what: str = "model", hint: str = "") -> str:
    """The path of the model `value` names, or `value` unchanged when it is a path or a hub ID.

    An existing path wins; then a name is looked up (`find_model`); a name starting with
    `litmine-` that is found nowhere raises ModelNotInstalledError (what was looked for and how
    to install it; `hint` adds the stage's own way out, e.g. "run with --no-relations").
    Anything else (e.g. a hub ID) comes back unchanged.
    """
    if not value or not is_name(value) or Path(value).exists():
        return value
    found = find_model(value)
    if found is not None:
        return str(found.path)
    if value.startswith(SHIPPED_PREFIX):
        raise missing_model_error(value, stage, what, hint)
    return value


def missing_model_error(value: str, stage: str, what: str = "model",
                        hint: str = "") -> ModelNotInstalledError:
    """The error for a litmine model that is neither in a checkout nor installed."""
    name = model_name(value)
    wheel = name.replace("-", "_")
    looked = f"{CHECKOUT_MODELS}/ (this checkout's models) and " if CHECKOUT_MODELS else ""
    installed = ", ".join(sorted(packaged_models())) or "none"
    return ModelNotInstalledError(
        f"{stage}: {what} {value!r} is not installed: looked for it in {looked}the installed "
        f"model packages (entry point group {ENTRY_POINT_GROUP!r}; installed: {installed}). "
        f"Install it with `pip install {name}` (wheels come from a checkout's `make dist`: "
        f"`pip install dist/{wheel}-*.whl`), " + (f"pass a model directory instead, or {hint}"
                                                  if hint else "or pass a model directory instead")
        + ". `litmine models` lists the models found.")


def default_path(file: str) -> Path:
    """A shipped model as a setting's default: the checkout's copy when it exists (the path it
    always was), else its bare name, looked up when used (`locate_model`): in an installed
    litmine the name, not one machine's path, reaches a Dask worker, which finds its own copy."""
    if CHECKOUT_MODELS is not None and (CHECKOUT_MODELS / file).exists():
        return CHECKOUT_MODELS / file
    return Path(model_name(file))


def output_path(file: str) -> Path:
    """Where training (or `lexicon build`) writes a shipped model by default: the checkout's
    data/models, else the current directory (never into site-packages)."""
    return (CHECKOUT_MODELS / file) if CHECKOUT_MODELS is not None else Path(file)
