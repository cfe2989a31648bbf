"""Atomic writes: a crash or Ctrl-C never leaves a half-written file that looks complete.

Every output goes to a temporary file in the destination folder and is renamed over the target
only once it is complete (rename is atomic within one file system).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from hstool.errors import OutputError


def check_writable(target: str | Path) -> Path:
    """Fail early (before any work) when the output folder is missing or not writable."""
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable; choose another -o")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    return path


def refuse_overwriting_inputs(outputs: Iterable[str | Path | None], inputs: Iterable[str | Path | None]) -> None:
    """Inputs are never modified: an output path that names an input is a usage mistake."""
    real_inputs = {os.path.realpath(p) for p in inputs if p is not None and str(p) != "-"}
    for out in outputs:
        if out is not None and str(out) != "-" and os.path.realpath(out) in real_inputs:
            raise OutputError(f"refusing to write {out}: it is one of the inputs; choose another -o")


@contextlib.contextmanager
def atomic_path(target: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` when the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary file is removed and the
    previous content of `target`, if any, is left untouched. `durable=False` skips the fsync
    before the rename: still atomic for a killed process, but after a power cut the file may be
    empty or torn, so use it only for intermediate files whose reader verifies them (the
    inference chunks, whose zip checksums are checked on --resume).
    """
    target = check_writable(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:  # e.g. a folder that claims to be writable but is not (/proc, a full disk)
        raise _cannot_write(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give outputs the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (tmp_name, str(target)):
            raise _cannot_write(target, exc) from None
        raise


def _cannot_write(target: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


def write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))
