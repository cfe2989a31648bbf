"""Checks every command shares, over the command registry (hstool/cli/app.py COMMANDS), in the
manner of scikit-learn's test_common.py: a command added to the registry is covered without a
line here, and one without an example in its --help fails.

For every command and sub-command:
- its --help shows at least one example command line;
- each example runs on the sample data (tests/sample_workspace.py) and exits 0 (or 3, the
  documented exit code of --fail-on), unless NOT_RUNNABLE says why it cannot run there;
- with -o, what it names gets a .meta.json sidecar;
- with -q, a successful run leaves stderr empty;
- a missing input gives exactly one `hs: error:` line on stderr and a non-zero exit, unless
  READS_NO_FILE says the command reads none.
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sample_workspace import link_or_copy

from hstool.cli.app import COMMANDS
from hstool.errors import EXIT_AUDIT_FAILED

# Examples that cannot run on the sample data, by their exact command line, with the reason.
NOT_RUNNABLE: dict[str, str] = {
    "hs synth --from-idx train=train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz "
    "--from-idx test=t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz --out-dir fashion/ "
    "--superclass summer=0,3,5,6 --superclass warm=2,4,9 --superclass everyday=1,7,8 --rare 6:0.25 --noisy 4:0.25": (
        "needs Fashion-MNIST's ten classes (idx files); tests/synth runs it on the real data"
    ),
    "hs train pneumonia/manifest.csv -o run/": "trains a network (minutes on CPU); tests/train trains tiny ones",
    "hs train cxr/manifest.csv -o run/ --arch densenet121 --weights densenet121-imagenet.pth --positive pneumothorax": (
        "needs ImageNet weights and a DenseNet-121 (minutes on CPU)"
    ),
    "hs train fmnist/manifest.csv -o run/ --subsample label=Shirt:0.75 --label-noise label=Coat:0.25 --seed 3": (
        "needs Fashion-MNIST class names and trains a network; tests/train covers the experiments"
    ),
    "hs train manifest.csv -o run/ --epochs 30 --resume": "trains 30 epochs (minutes on CPU)",
    "hs train manifest.csv -o oof/ --cross-fit 5": (
        "trains five networks (minutes on CPU); tests/train/test_cross_fit.py cross-fits tiny ones"
    ),
    "torchrun --nproc-per-node 2 -m hstool train manifest.csv -o run/ --device cpu": (
        "starts two processes under torchrun; tests/train runs DDP on CPU"
    ),
    "hs predict model.onnx manifest.csv -o preds.0.csv --shard 0/4 --device cuda:0": "needs a CUDA GPU",
    "for d in 1 5 10 25 50 100 200; do hs perturb m.csv -o lp$d --lowpass $d -q; done": (
        "a shell loop over the previous examples' command"
    ),
    "hs stratify preds.csv sheet.csv --by review_label --allow-unmatched --threshold 0.5": (
        "needs review_label filled in by a person"
    ),
    "hs import model.pt -o model.onnx --size 224 --activation softmax --class-names a,b,c": (
        "needs a TorchScript file, which only torch makes; tests/train/test_import_torch.py imports one"
    ),
    "hs import --arch resnet18 --weights resnet18_state.pt -o model.onnx --activation sigmoid --size 224": (
        "needs a torch state dict; tests/train/test_import_torch.py imports torchvision and timm ones"
    ),
    "hs saliency model/model.onnx manifest.csv --ids ids.csv --checkpoint model/model.pt -o maps/": (
        "Grad-CAM needs the model.pt of an hs train run; tests/train/test_train_gradcam.py trains one"
    ),
}

# Commands that read no file, so that no input can go missing, by their name, with the reason.
READS_NO_FILE: dict[str, str] = {
    "power": "computes sample sizes from numbers given on the command line (a planning tool, before any data)",
}

# Options whose value is written, not read (never replaced by a missing input).
OUTPUT_OPTIONS = {"-o", "--out-dir", "--output", "--summary", "--prevalence", "--plot"}
FILE_SUFFIXES = (".csv", ".npy", ".onnx", ".npz", ".gz", ".json", ".pth")


@dataclass(frozen=True)
class Entry:
    """One command (or sub-command) and the examples its --help shows."""

    name: str  # as typed after `hs`: "stratify", "manifest folder"
    epilog: str
    runs_alone: bool = True  # False for a group's own --help: its sub-commands are checked

    @property
    def examples(self) -> list[str]:
        return examples_of(self.epilog)


def examples_of(epilog: str) -> list[str]:
    """Indented command lines after 'Examples:', joined across trailing backslashes."""
    lines = epilog.split("Examples:", 1)[1].splitlines() if "Examples:" in epilog else []
    found: list[str] = []
    pending = ""
    for line in lines:
        if line and not line.startswith(" ") and not pending:
            if found:
                break  # the prose after the examples
            continue
        text = line.strip()
        if not text or (text.startswith("#") and not pending):
            continue
        joined = (pending + " " + text).strip() if pending else text
        if joined.endswith("\\"):
            pending = joined[:-1].strip()
            continue
        pending = ""
        found.append(_without_comment(joined))
    return found


def _without_comment(line: str) -> str:
    """The command without a trailing `# ...` remark."""
    return re.sub(r"\s+#\s.*$", "", line).strip()


def registry() -> list[Entry]:
    entries = []
    for name, module_name in COMMANDS:
        module = importlib.import_module(f"hstool.cli.{module_name}")
        if hasattr(module, "app"):
            entries.append(Entry(name, module.app.info.epilog or "", runs_alone=False))
            for sub in module.app.registered_commands:
                entries.append(Entry(f"{name} {sub.name}", sub.epilog or ""))
        else:
            entries.append(Entry(name, getattr(module, "EPILOG", None) or ""))
    return entries


ENTRIES = registry()
IDS = [e.name for e in ENTRIES]


@pytest.fixture
def workspace(sample_workspace: Path, tmp_path: Path) -> Path:
    """A private copy per test: examples overwrite files (emb.npy as a shard, preds.csv merged)."""
    folder = tmp_path / "ws"
    shutil.copytree(sample_workspace, folder, copy_function=link_or_copy)
    return folder


def run_line(line: str, folder: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    """An example line, in-process, in `folder`: `hs` dropped, globs expanded, `> FILE` honoured,
    a trailing `| ...` (post-processing of the output) dropped."""
    from typer.testing import CliRunner

    from hstool.cli.app import app

    words = shlex.split(line, comments=True)
    assert words[0] == "hs", line
    if "|" in words:  # what follows a pipe only post-processes the output (head, cut...)
        words = words[: words.index("|")]
    redirect = None
    if ">" in words:
        at = words.index(">")
        redirect, words = words[at + 1], words[:at]
    args: list[str] = []
    for word in words[1:]:
        matches = sorted(glob.glob(word, root_dir=folder)) if any(c in word for c in "*?[") else []
        args += matches or [word]
    args += list(extra)
    here, argv = Path.cwd(), sys.argv
    try:
        os.chdir(folder)
        sys.argv = ["hs", *args]
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(here)
        sys.argv = argv
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if redirect is not None:
        (folder / redirect).write_bytes(result.stdout_bytes)
    return subprocess.CompletedProcess(["hs", *args], result.exit_code, result.stdout_bytes, result.stderr_bytes)


def run_example(line: str, folder: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    """run_line, after removing the folders the example writes (`-o maps/`, `--out-dir pm/`).

    Such a folder may already be there: the workspace holds maps/ for the examples that read it
    (hs report --saliency maps/), or an earlier example of the same command wrote it. Commands
    refuse to write into an earlier output folder without --force, and the sidecar check would
    find the old folder's sidecar whatever the example wrote; a user running the example starts
    without it."""
    for output in _outputs(line):
        if output.endswith("/"):
            shutil.rmtree(folder / output, ignore_errors=True)
    return run_line(line, folder, *extra)


def runnable(entry: Entry) -> list[str]:
    return [e for e in entry.examples if e not in NOT_RUNNABLE]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_help_shows_an_example(entry: Entry) -> None:
    own = f"hs {entry.name}"
    assert any(e.startswith(own) for e in entry.examples), (
        f"`{own} --help` shows no example command line: add one to its epilog (EPILOG)"
    )


def test_not_runnable_names_only_real_examples() -> None:
    shown = {e for entry in ENTRIES for e in entry.examples}
    stale = sorted(set(NOT_RUNNABLE) - shown)
    assert not stale, f"NOT_RUNNABLE lists examples no --help shows any more: {stale}"


def test_reads_no_file_names_only_real_commands() -> None:
    stale = sorted(set(READS_NO_FILE) - {e.name for e in ENTRIES if e.runs_alone})
    assert not stale, f"READS_NO_FILE lists commands the registry does not have any more: {stale}"


def test_examples_parse() -> None:
    """The example parser itself: continuation lines, comments, the prose after them."""
    epilog = (
        "Examples:\n\n  hs a x.csv -o y.csv   # a comment\n\n  hs b --p 1 \\\n      --q 2\n\n"
        "  # a remark\n  hs c\n\nProse, not an example: hs d.\n\n  hs e\n"
    )
    assert examples_of(epilog) == ["hs a x.csv -o y.csv", "hs b --p 1 --q 2", "hs c"]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_examples_run_on_the_sample_data(entry: Entry, workspace: Path) -> None:
    lines = [line for line in runnable(entry) if line.startswith("hs ")]
    for line in lines:
        result = run_example(line, workspace)
        allowed = (0, EXIT_AUDIT_FAILED) if "--fail-on" in line else (0,)
        assert result.returncode in allowed, f"{line}\n{result.stderr.decode()}"
        for output in _outputs(line):
            target = workspace / output
            if output.endswith("/") or target.is_dir():
                assert list(target.glob("*.meta.json")), f"{line}: no sidecar in {output}"
            elif output != "-":
                assert (workspace / f"{output}.meta.json").is_file(), f"{line}: {output} has no .meta.json"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.runs_alone], ids=lambda e: e.name)
def test_quiet_leaves_stderr_empty(entry: Entry, workspace: Path) -> None:
    lines = [line for line in runnable(entry) if line.startswith(f"hs {entry.name} ") and ">" not in line]
    if not lines:
        pytest.skip(f"no example of hs {entry.name} runs on the sample data (NOT_RUNNABLE says why)")
    result = run_example(lines[0], workspace, "-q")
    assert result.returncode in (0, EXIT_AUDIT_FAILED), result.stderr.decode()
    assert result.stderr == b"", f"{lines[0]} -q wrote to stderr:\n{result.stderr.decode()}"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.runs_alone], ids=lambda e: e.name)
def test_a_missing_input_is_one_error_line(entry: Entry, workspace: Path) -> None:
    own = [e for e in entry.examples if e.startswith(f"hs {entry.name} ")]
    if entry.name in READS_NO_FILE:
        read = [e for e in own if _first_input(e, workspace) is not None]
        assert not read, f"READS_NO_FILE exempts hs {entry.name}, but {read[0]} reads a file: drop the exemption"
        pytest.skip(f"hs {entry.name} reads no file: {READS_NO_FILE[entry.name]}")
    line, missing = _with_a_missing_input(own[0], workspace)
    result = run_example(line, workspace)
    stderr = result.stderr.decode()
    assert result.returncode != 0, f"{line}: exit 0 with a missing input"
    errors = [s for s in stderr.splitlines() if s.startswith("hs: error:")]
    assert len(errors) == 1 and stderr.strip() == errors[0], f"{line}: want one 'hs: error:' line, got:\n{stderr}"
    assert missing.rstrip("/") in errors[0], f"{line}: the error does not name the missing input: {errors[0]}"


def _outputs(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-o", "--out-dir")]


def _first_input(line: str, folder: Path) -> int | None:
    """Where the example names its first input (a file or folder it reads), or None."""
    words = shlex.split(line, comments=True)
    for i, word in enumerate(words[2:], 2):
        if words[i - 1] in OUTPUT_OPTIONS or word.startswith("-") or "=" in word:
            continue
        if (folder / word).exists() or word.endswith(("/", *FILE_SUFFIXES)):
            return i
    return None


def _with_a_missing_input(line: str, folder: Path) -> tuple[str, str]:
    """The example with its first input replaced by a missing one."""
    i = _first_input(line, folder)
    if i is None:
        raise AssertionError(
            f"{line}: names no input file to replace; give the command an example that reads one "
            "(or, if it reads no file at all, say so in READS_NO_FILE)"
        )
    words = shlex.split(line, comments=True)
    word = words[i]
    missing = (
        "missing_input/" if word.endswith("/") or (folder / word).is_dir() else "missing_input" + Path(word).suffix
    )
    return shlex.join([*words[:i], missing, *words[i + 1 :]]), missing
