"""`hs merge`: join the outputs of `hs predict`/`hs embed --shard i/N` into the file one run
would have written, byte for byte.

The shards' sidecars say which block of which manifest each one holds and which model made it.
The merge refuses shards of different models, manifests or batch sizes, a missing or repeated
shard, and blocks that do not tile the manifest; then it concatenates the blocks in shard order
(each row's text does not depend on the others, see `hstool.infer.preds_format`), with their errors
lists when images were skipped.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hstool.errors import InputError, UsageError, option_ref
from hstool.infer.chunks import Shard
from hstool.infer.preds_format import EMBEDDINGS_SCHEMA, PREDS_SCHEMA
from hstool.io.arrays import ids_path_for, read_embeddings, write_embeddings_streamed
from hstool.io.atomic import refuse_overwriting_inputs, write_bytes
from hstool.io.sidecar import command_line, errors_path_for, read_sidecar, sidecar_path, write_sidecar
from hstool.io.tables import read_table

# Sidecar fields every shard of one run shares, with how to read them.
_SAME: dict[str, Callable[[dict[str, Any]], object]] = {
    "model": lambda m: m["model"]["sha256"],
    "manifest": lambda m: m["inputs"][1]["sha256"],
    "manifest rows": lambda m: m["selection"]["manifest_rows"],
    "batch size": lambda m: m["selection"]["batch_size"],
    "shard count": lambda m: Shard.parse(m["selection"]["shard"]).count,
    option_ref("on_error"): lambda m: m["parameters"]["on_error"],
}


@dataclass(frozen=True)
class MergeResult:
    output: str
    schema: str
    rows: int
    shards: int
    skipped: int
    notes: list[str]

    def summary(self) -> str:
        skipped = f", {self.skipped} images skipped (listed in {errors_path_for(self.output)})" if self.skipped else ""
        return f"hs: merged {self.shards} shards into {self.output}: {self.rows} rows{skipped}"


def merge_shards(shards: list[str], output: str) -> MergeResult:
    """Merge shard outputs (all preds CSVs, or all embedding .npy files) into `output`."""
    if not shards:
        raise UsageError("give the shard files to merge, e.g. hs merge -o preds.csv preds.*.csv")
    metas = [_shard_sidecar(path) for path in shards]
    schema = metas[0]["schema"]
    outputs: list[str | Path] = [output, sidecar_path(output), errors_path_for(output)]
    if schema == EMBEDDINGS_SCHEMA:
        outputs.append(ids_path_for(output))
    refuse_overwriting_inputs(
        outputs, [f for s in shards for f in (s, sidecar_path(s), errors_path_for(s), ids_path_for(s))]
    )
    order = _check_tiling(shards, metas)
    shards = [shards[i] for i in order]
    metas = [metas[i] for i in order]
    skipped = sum(m["images"]["skipped"] for m in metas)
    if metas[0]["parameters"]["on_error"] == "skip":
        _concatenate_csv([errors_path_for(s) for s in shards], errors_path_for(output), role="errors list")
    if schema == PREDS_SCHEMA:
        rows = _concatenate_csv(shards, output, role="shard predictions", expected=[m["rows"] for m in metas])
    else:
        rows = _concatenate_embeddings(shards, output, metas)
    notes = []
    providers = sorted({m["provider"] for m in metas})
    if len(providers) > 1:
        notes.append(
            f"hs: note: the shards ran on different providers ({', '.join(providers)}); low-order digits may differ from a single run"
        )
    write_sidecar(output, _merged_sidecar(shards, metas, output, rows, skipped, providers))
    return MergeResult(output, schema, rows, len(shards), skipped, notes)


def _shard_sidecar(path: str) -> dict[str, Any]:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file; pass the files written by hs predict/embed {option_ref('shard')}")
    meta = read_sidecar(path)
    if meta is None:
        raise InputError(
            f"{path}: its sidecar {sidecar_path(path)} is missing; hs merge needs the shard outputs with their .meta.json files"
        )
    if meta.get("schema") not in (PREDS_SCHEMA, EMBEDDINGS_SCHEMA) or "selection" not in meta:
        raise InputError(f"{path}: not an output of hs predict or hs embed (schema {meta.get('schema')!r})")
    if meta["selection"].get("shard") is None:
        raise InputError(
            f"{path}: not a shard (it was written without {option_ref('shard')}); there is nothing to merge it with"
        )
    return meta


def _check_tiling(shards: list[str], metas: list[dict[str, Any]]) -> list[int]:
    """Same run, every shard once, blocks tiling the manifest; returns the shard order."""
    first = metas[0]
    for path, meta in zip(shards, metas):
        if meta["schema"] != first["schema"]:
            raise InputError(
                f"{path}: is {meta['schema']} but {shards[0]} is {first['schema']}; merge predictions and embeddings separately"
            )
        for what, read in _SAME.items():
            if read(meta) != read(first):
                raise InputError(
                    f"{path}: its {what} ({read(meta)}) differs from {shards[0]}'s ({read(first)}); "
                    "merge only the shards of one run (same model, manifest and options)"
                )
    count = Shard.parse(first["selection"]["shard"]).count
    seen: dict[int, str] = {}
    for path, meta in zip(shards, metas):
        index = Shard.parse(meta["selection"]["shard"]).index
        if index in seen:
            raise InputError(f"{path}: is shard {index}/{count}, like {seen[index]}; give each shard once")
        seen[index] = path
    missing = [i for i in range(count) if i not in seen]
    if missing:
        raise InputError(
            f"shard {missing[0]}/{count} is missing ({len(missing)} of {count} missing); "
            f"run it (hs predict/embed {option_ref('shard')}) or pass its file too"
        )
    order = sorted(range(len(shards)), key=lambda i: Shard.parse(metas[i]["selection"]["shard"]).index)
    end = 0
    for i in order:
        selection = metas[i]["selection"]
        if selection["first_row"] != end:
            raise InputError(
                f"{shards[i]}: covers rows {selection['first_row']}-{selection['end_row']} but the previous shard ends at {end}; the shards do not come from one run"
            )
        end = selection["end_row"]
    if end != first["selection"]["manifest_rows"]:
        raise InputError(
            f"the shards cover {end} of {first['selection']['manifest_rows']} manifest rows; the shards do not come from one run"
        )
    return order


def _concatenate_csv(
    paths: Sequence[str | Path], output: str | Path, *, role: str, expected: list[int] | None = None
) -> int:
    """One header, then every file's rows in order; checks headers (and row counts)."""
    parts: list[bytes] = []
    header: bytes | None = None
    rows = 0
    for i, path in enumerate(paths):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file; the shard's {role} is needed for the merge")
        data = Path(path).read_bytes()
        head, _, body = data.partition(b"\n")
        # Parse the rows (this checks the file); a shard can hold none (a header only).
        height = read_table(str(path), role=role, required=(), data=data)[0].height if body.strip() else 0
        if expected is not None and height != expected[i]:
            raise InputError(
                f"{path}: has {height} rows but its sidecar says {expected[i]}; the file was changed after hs wrote it"
            )
        if header is not None and head != header:
            raise InputError(f"{path}: its columns differ from {paths[0]}'s; the shards do not come from one model")
        header = head
        parts.append(body)
        rows += height
    assert header is not None  # merge_shards refuses an empty list of shards
    write_bytes(output, header + b"\n" + b"".join(parts))
    return rows


def _concatenate_embeddings(shards: list[str], output: str, metas: list[dict[str, Any]]) -> int:
    loaded = [_shard_embeddings(path, meta) for path, meta in zip(shards, metas)]
    dims = {values.shape[1] for _, values in loaded}
    if len(dims) > 1:
        raise InputError(
            f"the shards have embeddings of different widths ({sorted(dims)}); they do not come from one model"
        )
    ids = [i for shard_ids, _ in loaded for i in shard_ids]
    write_embeddings_streamed(output, ids, (values for _, values in loaded), dims.pop())
    return len(ids)


def _shard_embeddings(path: str, meta: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """A shard's ids and (memory-mapped) matrix; a shard can hold no rows (more shards than batches)."""
    if meta["rows"] == 0:
        try:
            values = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc}); pass the file written by hs embed") from None
        if values.ndim == 2 and values.shape[0] == 0:
            return [], values
        raise InputError(
            f"{path}: has shape {values.shape} but its sidecar says 0 rows; the file was changed after hs wrote it"
        )
    ids, values, _ = read_embeddings(path)
    if len(ids) != meta["rows"]:
        raise InputError(
            f"{path}: has {len(ids)} rows but its sidecar says {meta['rows']}; the file was changed after hs wrote it"
        )
    return ids.to_list(), values


def _merged_sidecar(
    shards: list[str], metas: list[dict[str, Any]], output: str, rows: int, skipped: int, providers: list[str]
) -> dict[str, Any]:
    meta: dict[str, Any] = copy.deepcopy(metas[0])
    meta["command"] = command_line()
    meta["parameters"]["shard"] = None
    meta["rows"] = rows
    meta["provider"] = providers[0] if len(providers) == 1 else providers
    meta["selection"].update(first_row=0, end_row=meta["selection"]["manifest_rows"], shard=None)
    meta["images"] = {k: sum(m["images"][k] for m in metas) for k in ("selected", "written", "skipped")}
    key = "preds" if meta["schema"] == PREDS_SCHEMA else "embeddings"
    meta["outputs"] = {key: output}
    meta["merged_from"] = [
        {"path": s, "shard": m["selection"]["shard"], "rows": m["rows"]} for s, m in zip(shards, metas)
    ]
    return meta
