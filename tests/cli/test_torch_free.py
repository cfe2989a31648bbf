"""An install with onnxruntime and without torch (extras `infer`, not `train`) runs inference,
merging and every statistics command.

The commands run in one fresh interpreter in which importing torch, torchvision, onnx or
onnxscript fails, as it would where they are not installed (a meta-path blocker installed
before hs is imported). The examples' inputs come from the sample workspace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sample_workspace import link_or_copy

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "torchvision", "onnx", "onnxscript")

COMMANDS: list[list[str]] = [
    ["predict", "model.onnx", "manifest.csv", "-o", "p.csv", "--embeddings", "e.npy"],
    ["embed", "model.onnx", "manifest.csv", "-o", "e2.npy"],
    ["predict", "model.onnx", "manifest.csv", "-o", "p.0.csv", "--shard", "0/2"],
    ["predict", "model.onnx", "manifest.csv", "-o", "p.1.csv", "--shard", "1/2"],
    ["merge", "-o", "p_merged.csv", "p.0.csv", "p.1.csv"],
    ["stratify", "p.csv", "labels.csv", "--by", "drain", "-o", "strata.csv"],
    ["cluster", "e.npy", "p.csv", "labels.csv", "-o", "clusters.csv"],
    ["calibrate", "p.csv", "labels.csv", "-o", "cal.csv"],
    ["agree", "p.csv", "preds_b.csv", "--reference", "labels.csv", "-o", "agree.csv"],
    ["probe", "e.npy", "labels.csv", "--target", "sex", "-o", "probe.csv"],
    ["report", "--preds", "p.csv", "--labels", "labels.csv", "--manifest", "manifest.csv", "-o", "report.html"],
    ["audit", "--preds", "p.csv", "--labels", "labels.csv", "--manifest", "manifest.csv", "-o", "sheet.csv"],
]

RUNNER = """
import importlib.abc, json, sys

BLOCKED = set(sys.argv[1].split(","))

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
try:
    import torch  # noqa: F401
    sys.exit("the blocker let torch through")
except ModuleNotFoundError:
    pass

from typer.testing import CliRunner
from hstool.cli.app import app

results = []
for args in json.loads(sys.argv[2]):
    sys.argv[1:] = args
    out = CliRunner().invoke(app, args)
    results.append({"args": args, "code": out.exit_code, "stderr": out.stderr})
print(json.dumps(results))
"""


def test_inference_and_statistics_run_without_torch(sample_workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(sample_workspace, folder, copy_function=link_or_copy)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + str(ROOT / "tests"))
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(BLOCKED), json.dumps(COMMANDS)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["args"] for r in results] == COMMANDS
    failed = [f"hs {' '.join(r['args'])} -> {r['code']}: {r['stderr']}" for r in results if r["code"] != 0]
    assert not failed, "\n".join(failed)
    assert (folder / "p_merged.csv").read_bytes() == (folder / "p.csv").read_bytes()
    for output in ("p.csv", "e.npy", "strata.csv", "clusters.csv", "cal.csv", "agree.csv", "probe.csv", "report.html"):
        assert (folder / f"{output}.meta.json").is_file(), output
