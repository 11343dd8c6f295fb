"""Package a litmine model as a wheel: a distribution named like the model that installs its files
into `site-packages/litmine_models/` and registers it in the `litmine.models` entry point group
(litmine/model_packages.py finds it there).

The wheel is written directly in the binary distribution format (PEP 427, with the core metadata
of https://packaging.python.org/specifications/core-metadata/ and the RECORD of
https://packaging.python.org/specifications/recording-installed-packages/), as flit and hatchling
write theirs: a model is data, so no build backend, no staging copy of 45 MB of weights and no
network are needed, and `litmine models package` works for a model a user trained as well as in
a checkout. Entries carry a fixed date, so the same model gives the same bytes on every build.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from litmine import __version__
from litmine.errors import ModelError
from litmine.model_packages import ENTRY_POINT_GROUP, PACKAGE_FOLDER, model_name
from litmine.tasks.model_info import ModelInfo, describe_model, model_files, read_card

#: Weights are stored, not deflated: fp16 safetensors shrink by 7% only, and deflating 45 MB
#: took 3.5 s on a busy 2-core CPU (zlib level 1 or 6 alike), the most of a model's build time.
STORED_SUFFIXES = (".safetensors", ".bin", ".pt", ".gz")
#: Zip entries' date: the earliest a zip file can hold (reproducible wheels).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20


def wheel_name(name: str, version: str) -> str:
    """`litmine-ner-six-minilm-l6`, `0.1.0` -> `litmine_ner_six_minilm_l6-0.1.0-py3-none-any.whl`
    (PEP 427's escaping of the distribution name)."""
    return f"{_escape(name)}-{version}-py3-none-any.whl"


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def build_model_wheel(entry: str | Path, out_dir: str | Path, version: str = __version__) -> Path:
    """Write the wheel of the model at `entry` (a model directory, or a one-file model such as the
    lexicon) into `out_dir`; returns its path. The distribution is named like the model; an
    ensemble requires its members' distributions of the same version."""
    entry = Path(entry)
    if not entry.exists():
        raise ModelError(f"models package: model {entry} does not exist; give a model directory or file "
                         "(`litmine models` lists them)")
    name = model_name(entry)
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", name):
        raise ModelError(f"models package: {entry.name!r} gives the model name {name!r}, which is no valid "
                         "distribution name; rename it to letters, digits and hyphens")
    info = describe_model(entry)
    dist_info = f"{_escape(name)}-{version}.dist-info"
    out = Path(out_dir) / wheel_name(name, version)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    base = entry.parent
    records: list[str] = []
    with zipfile.ZipFile(partial, "w") as wheel:
        for path in model_files(entry):
            arcname = f"{PACKAGE_FOLDER}/{path.relative_to(base).as_posix()}"
            records.append(_add_file(wheel, arcname, path))
        for filename, text in (("METADATA", _metadata(name, version, info, entry)),
                               ("WHEEL", _wheel_file()),
                               ("entry_points.txt", f"[{ENTRY_POINT_GROUP}]\n{name} = {PACKAGE_FOLDER}\n")):
            records.append(_add_text(wheel, f"{dist_info}/{filename}", text))
        records.append(f"{dist_info}/RECORD,,")
        _write(wheel, f"{dist_info}/RECORD", "".join(line + "\n" for line in records).encode())
    os.replace(partial, out)
    return out


def build_model_wheels(entries: Sequence[str | Path], out_dir: str | Path,
                       version: str = __version__) -> list[Path]:
    """`build_model_wheel` for each entry, in order."""
    return [build_model_wheel(entry, out_dir, version) for entry in entries]


def _metadata(name: str, version: str, info: ModelInfo, entry: Path) -> str:
    """METADATA: name, version, summary, licence, the members an ensemble needs, the card."""
    _, body = read_card(entry)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {info.title or name} (a litmine model)", f"License: {info.licence}",
             "Keywords: litmine,biomedical,model"]
    lines += [f"Requires-Dist: {member}=={version}" for member in info.needs]
    if body.strip():
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + body.strip() + "\n"
    return "\n".join(lines) + "\n"


def _wheel_file() -> str:
    return ("Wheel-Version: 1.0\n"
            f"Generator: litmine {__version__} (litmine.tasks.model_wheels)\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n")


def _info(arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = (zipfile.ZIP_STORED if arcname.endswith(STORED_SUFFIXES)
                          else zipfile.ZIP_DEFLATED)
    return info


def _add_file(wheel: zipfile.ZipFile, arcname: str, path: Path) -> str:
    """Stream a file into the wheel; its RECORD line (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source, wheel.open(_info(arcname), "w", force_zip64=True) as target:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    return f"{arcname},sha256={_b64(digest.digest())},{size}"


def _add_text(wheel: zipfile.ZipFile, arcname: str, text: str) -> str:
    data = text.encode("utf-8")
    _write(wheel, arcname, data)
    return f"{arcname},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}"


def _write(wheel: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    wheel.writestr(_info(arcname), data)


def _b64(digest: bytes) -> str:
    """RECORD's hash encoding: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
