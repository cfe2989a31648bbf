"""Provenance sidecars: every artifact `X` gets `X.meta.json` describing how it was made.

The sidecar holds the schema name and version of the artifact, the hs version, the command
line, the parameters and seed, the row count and the sha256 of every input: the chain from a
report back to its data and model. It has no timestamp, so that the same inputs and seed give
byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from hstool import __version__
from hstool.errors import InputError
from hstool.io.atomic import write_text


def sidecar_path(artifact: str | Path) -> Path:
    return Path(f"{artifact}.meta.json")


def errors_path_for(output: str | Path) -> Path:
    """`preds.csv` -> `preds.csv.errors.csv`: the rows a command skipped (like the sidecar)."""
    return Path(f"{output}.errors.csv")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks (model weights can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def command_line() -> str:
    """The command as the user typed it, with the program shown as `hs`."""
    return shlex.join(["hs", *sys.argv[1:]])


def build_sidecar(
    *,
    schema: str,
    parameters: dict[str, Any],
    inputs: list[dict[str, Any]],
    rows: int | None,
    seed: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "schema": schema,
        "hs_version": __version__,
        "command": command_line(),
        "parameters": parameters,
        "seed": seed,
        "rows": rows,
        "inputs": inputs,
    }
    if extra:
        meta.update(extra)
    return meta


def write_sidecar(artifact: str | Path, meta: dict[str, Any]) -> Path:
    path = sidecar_path(artifact)
    write_text(path, json.dumps(meta, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read_sidecar(artifact: str | Path) -> dict[str, Any] | None:
    """The sidecar of `artifact`, or None when there is none."""
    path = sidecar_path(artifact)
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a valid .meta.json sidecar ({exc}); restore it, or delete it") from None
    if not isinstance(meta, dict):
        raise InputError(
            f"{path}: not a valid .meta.json sidecar (a JSON object is expected); restore it, or delete it"
        )
    return meta
