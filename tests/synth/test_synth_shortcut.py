"""The planted drain is a learnable shortcut (real PneumoniaMNIST images).

Not an hs model: a logistic regression on raw pixels (scikit-learn), trained on a synth train
split. Each test positive is scored twice, with its planted drain and as the untouched base
image, so the comparison is paired (same image, drain or not). When the drain marks 90% of the
training positives and 10% of the negatives, the drain raises the score of the same image; when
it is in half of both classes (no correlation with the label), it does not. The CNN version of
this check, with `hs stratify` on the result, is benchmarks/bench_synth.py.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from PIL import Image
from scipy.stats import mannwhitneyu, wilcoxon

from hstool.synth.base import BaseSource
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec


def paired_score_change(npz, out, train_fractions: str) -> np.ndarray:
    """Score with drain minus score without, for every test positive."""
    from sklearn.linear_model import LogisticRegression

    spec = SynthSpec.from_options(
        seed=1, per_class="train=200,test=100", spurious=f"drain:{train_fractions},test.pos=1,test.neg=0"
    )
    run_synth(BaseSource(npz=str(npz), splits=("train", "test")), spec, str(out))
    manifest = pl.read_csv(out / "manifest.csv", infer_schema=False)
    pixels = np.stack([np.asarray(Image.open(out / p), dtype=np.float64).ravel() / 255 for p in manifest["path"]])
    train = (manifest["split"] == "train").to_numpy()
    positive = (manifest["label"] == "1").to_numpy()
    model = LogisticRegression(C=0.1, max_iter=5000).fit(pixels[train], positive[train])
    test_pos = ~train & positive
    with np.load(npz) as data:
        base = data["test_images"]
        plain = np.stack(
            [
                base[int(i.split("_")[1])].astype(np.float64).ravel() / 255
                for i in manifest["image_id"].filter(pl.Series(test_pos))
            ]
        )
    return model.predict_proba(pixels[test_pos])[:, 1] - model.predict_proba(plain)[:, 1]


@pytest.mark.slow
def test_a_model_trained_with_the_drain_correlated_scores_drained_positives_higher(data_dir, tmp_path):
    pytest.importorskip("sklearn")
    npz = data_dir / "pneumoniamnist" / "pneumoniamnist.npz"
    shortcut = paired_score_change(npz, tmp_path / "shortcut", "train.pos=0.9,train.neg=0.1")
    control = paired_score_change(npz, tmp_path / "control", "train.pos=0.5,train.neg=0.5")
    assert len(shortcut) == len(control) == 100
    assert np.median(shortcut) > 0 and wilcoxon(shortcut).pvalue < 0.001
    assert mannwhitneyu(shortcut, control, alternative="greater").pvalue < 0.001
