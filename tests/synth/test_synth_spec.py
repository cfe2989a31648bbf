"""The `hs synth` option grammar: what parses, and one-line usage errors for what does not."""

from __future__ import annotations

import pytest

from hstool.errors import UsageError
from hstool.synth.base import BaseSource
from hstool.synth.spec import (
    ClassFraction,
    Spurious,
    Subtle,
    SynthSpec,
    parse_idx_source,
    parse_per_class,
    parse_superclasses,
)


def test_spurious_fractions_with_split_overrides():
    spurious = Spurious.parse("drain:pos=0.9,neg=0.1,test.pos=0.4")
    assert spurious.kind == "drain"
    assert spurious.fraction("train", "pos") == 0.9 and spurious.fraction("test", "pos") == 0.4
    assert spurious.fraction("test", "neg") == 0.1 and spurious.fraction(None, "neg") == 0.1
    only_test = Spurious.parse("drain:test.pos=0.3")
    assert only_test.fraction("train", "pos") == 0.0 and only_test.fraction("test", "neg") == 0.0
    assert only_test.splits_named() == {"test"}
    assert spurious.describe() == {"kind": "drain", "fractions": {"pos": 0.9, "neg": 0.1, "test.pos": 0.4}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drain", "expected KIND:"),
        ("tube:pos=0.5", "unknown correlate 'tube'; available: drain"),
        ("drain:pos=1.5", "'1.5' is not a number in [0, 1]"),
        ("drain:pos=x", "'x' is not a number in [0, 1]"),
        ("drain:positives=0.5", "'positives=0.5' is not [SPLIT.]pos=F"),
        ("drain:dev.pos=0.5", "'dev' is not a split"),
        ("drain:pos=0.5,pos=0.6", "'pos' is given twice"),
        ("drain:pos", "'pos' is not [SPLIT.]pos=F"),
    ],
)
def test_spurious_errors(text, message):
    with pytest.raises(UsageError, match=f"^spurious '{text}': .*") as info:
        Spurious.parse(text)
    assert message in str(info.value) and "\n" not in str(info.value)
    # The command line names the flag: hstool.cli.common.handled maps the field.
    assert info.value.command_line_text(lambda field: "--" + field.replace("_", "-")).startswith(
        f"--spurious '{text}': "
    )


def test_class_fractions_subtle_superclasses_per_class_and_idx():
    assert ClassFraction.parse("Shirt:0.25", "--rare") == ClassFraction("Shirt", 0.25)
    assert Subtle.parse("1:0.3") == Subtle("1", 0.3, 0.15)
    assert Subtle.parse("1:0.3:0.05") == Subtle("1", 0.3, 0.05)
    assert parse_superclasses(["summer=0,3, 5", "warm=2"]) == {"summer": ("0", "3", "5"), "warm": ("2",)}
    assert parse_per_class("200") == {None: 200}
    assert parse_per_class("train=200, test=100") == {"train": 200, "test": 100}
    assert parse_idx_source("train=a.gz,b.gz") == ("train", "a.gz", "b.gz")
    assert parse_idx_source("a.gz,b.gz") == (None, "a.gz", "b.gz")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ClassFraction.parse("6", "--rare"), "--rare '6': expected CLASS:FRACTION"),
        (lambda: ClassFraction.parse("6:2", "--noisy"), "--noisy '6:2': '2' is not a number in [0, 1]"),
        (lambda: Subtle.parse("1:0.3:0"), "'0' is not a number in (0, 1]"),
        (lambda: Subtle.parse("1:0.3:0.7"), "must be below the others' (0.6)"),
        (lambda: Subtle.parse("1:0.3:0.1:2"), "expected CLASS:FRACTION[:CONTRAST]"),
        (lambda: parse_superclasses(["a=1,2", "b=2"]), "class '2' is already in superclass 'a'"),
        (lambda: parse_superclasses(["a=1", "a=2"]), "superclass 'a' is given twice"),
        (lambda: parse_superclasses(["a"]), "expected NAME=CLASS[,CLASS...]"),
        (lambda: parse_per_class("0"), "'0' is not a positive whole number"),
        (lambda: parse_per_class("train=5,train=6"), "each split once"),
        (lambda: parse_per_class("5,test=3"), "either one N for every split or SPLIT=N pairs"),
        (lambda: parse_idx_source("train=a.gz"), "expected [SPLIT=]IMAGES,LABELS"),
        (lambda: parse_idx_source("dev=a,b"), "'dev' is not a split"),
        (lambda: SynthSpec(seed=-1), "seed=-1: must be a whole number >= 0"),
        (lambda: SynthSpec.from_options(rare=["6:0.5", "6:0.2"]), "rare: a class is given twice"),
        (lambda: SynthSpec.from_options(size="0"), "size '0'"),
        (lambda: BaseSource(), "give one source of base images"),
        (lambda: BaseSource(npz="a.npz", manifest="m.csv"), "(got npz and manifest)"),
        (lambda: BaseSource(npz="a.npz", root="x"), "root applies to manifest only"),
        (lambda: BaseSource(manifest="m.csv", class_names=("a", "b")), "class_names applies to npz and idx"),
        (lambda: BaseSource(idx=(("train", "a", "b"), ("train", "c", "d"))), "need one split each, all different"),
        (lambda: BaseSource(idx=((None, "a", "b"),), splits=("train",)), "with idx name the split"),
        (lambda: BaseSource(npz="a.npz", splits=("dev",)), "splits='dev': choose among"),
    ],
)
def test_grammar_errors_are_one_line(call, message):
    with pytest.raises(UsageError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_parameters_are_json_ready():
    spec = SynthSpec.from_options(
        seed=3,
        per_class="train=5",
        superclass=["a=0", "b=1"],
        spurious="drain:pos=0.5",
        rare=["0:0.5"],
        noisy=["1:0.1"],
        subtle="1:0.2",
        size="32",
    )
    assert spec.parameters() == {
        "per_class": {"train": 5},
        "superclasses": {"a": ["0"], "b": ["1"]},
        "positive": None,
        "spurious": {"kind": "drain", "fractions": {"pos": 0.5}},
        "rare": {"0": 0.5},
        "noisy": {"1": 0.1},
        "subtle": {"class": "1", "fraction": 0.2, "contrast": 0.15, "clear_contrast": 0.6},
        "size": [32, 32],
    }


def test_cli_usage_errors_exit_2_with_one_line(run_hs, tmp_path):
    cases = [
        (["--spurious", "drain:pos=2"], "hs: error: --spurious 'drain:pos=2': '2' is not a number in [0, 1]"),
        (["--rare", "6"], "hs: error: --rare '6': expected CLASS:FRACTION"),
        (["--from-idx", "x.gz"], "hs: error: --from-idx 'x.gz': expected [SPLIT=]IMAGES,LABELS"),
        (["--splits", "train,train"], "hs: error: --splits 'train,train': give distinct, non-empty names"),
    ]
    for args, start in cases:
        result = run_hs("synth", "--from-npz", "x.npz", "--out-dir", "out", *args)
        err = result.stderr.decode()
        assert result.returncode == 2, err
        assert err.startswith(start) and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists()
