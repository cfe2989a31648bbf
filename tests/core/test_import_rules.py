"""The import rules of docs/architecture.md, checked on the source (no module is imported).

Every `import` and `from ... import` statement counts, including those inside functions (hs
imports heavy libraries lazily, and a lazy import of torch in the wrong room is still a
dependency). A new room, or a new dependency between rooms, must be added here on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hstool"

# Room -> the other rooms it may import. `hstool` itself (its __version__) is open to all.
ROOMS: dict[str, set[str]] = {
    "errors": set(),
    "workers": set(),
    "stats": set(),  # pure numerics: numpy and scipy only
    "io": {"errors"},
    "data": {"errors", "io", "workers"},
    "synth": {"errors", "io", "data"},
    "infer": {"errors", "io", "data", "workers"},
    # ONNX graph surgery for hs import: onnx and onnxruntime, never torch.
    "importer": {"errors", "io", "data", "infer"},
    # Occlusion through ONNX Runtime; Grad-CAM only through train's lazily imported gradcam.
    "saliency": {"errors", "io", "data", "infer", "train"},
    "train": {"errors", "io", "data", "stats", "workers", "importer", "infer"},  # cross-fit predicts through infer
    "audit": {"errors", "io", "stats"},
    "report": {"errors", "io", "stats", "data", "audit", "workers", "saliency"},
    "cli": {
        "errors",
        "io",
        "stats",
        "data",
        "synth",
        "infer",
        "importer",
        "saliency",
        "train",
        "audit",
        "report",
        "workers",
    },
    "__main__": {"cli"},
}

# Third-party packages confined to rooms: the command-line layer, and the two ML runtimes
# (an install without torch must still run inference and every statistics command).
CONFINED: dict[str, set[str]] = {
    "typer": {"cli"},
    "rich": {"cli"},
    "click": {"cli"},
    "torch": {"train"},
    "torchvision": {"train"},
    "onnx": {"train", "importer"},
    "onnxscript": {"train"},
    "onnxruntime": {"infer", "train", "importer", "saliency"},
}


def _room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # hs uses absolute imports only, so that this check sees every edge
                found.append((node.lineno, "." * node.level + (node.module or "")))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_is_in_a_known_room() -> None:
    unknown = sorted({_room(p) for p in MODULES} - set(ROOMS))
    assert not unknown, f"new room(s) {unknown}: add them to ROOMS here and to docs/architecture.md"


def violations(path: Path, room: str) -> list[str]:
    broken = []
    for line, name in _imports(path):
        where = f"{path.name}:{line}: import {name}"
        top = name.split(".")[0]
        if name.startswith("."):
            broken.append(f"{where}: relative import (use hstool.ROOM...)")
        elif top == "hstool":
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else None
            if target is not None and target != room and target not in ROOMS.get(room, set()):
                broken.append(f"{where}: room '{room}' may not import room '{target}'")
        elif top in CONFINED and room not in CONFINED[top]:
            broken.append(f"{where}: '{top}' is confined to {sorted(CONFINED[top])}")
    return broken


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_rules(path: Path) -> None:
    broken = violations(path, _room(path))
    assert not broken, f"{path.relative_to(PACKAGE.parent)}:\n" + "\n".join(broken)


def test_the_checker_catches_forbidden_imports(tmp_path: Path) -> None:
    """The check itself can fail: lazy imports inside a function are found, and judged."""
    module = tmp_path / "lazy.py"
    module.write_text(
        "import numpy\n\ndef f():\n    import torch.nn\n    from hstool.cli import app\n    from . import x\n",
        encoding="utf-8",
    )
    assert [name for _, name in _imports(module)] == ["numpy", "torch.nn", "hstool.cli", "."]
    found = violations(module, "stats")
    assert len(found) == 3
    assert "'torch' is confined to ['train']" in found[0]
    assert "room 'stats' may not import room 'cli'" in found[1]
    assert "relative import" in found[2]
    assert violations(module, "cli") == [found[0], found[2]]  # cli may import cli, not torch
