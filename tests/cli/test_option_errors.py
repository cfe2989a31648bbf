"""Library errors speak of fields (OptionError); the command line shows the flag instead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from sample_workspace import link_or_copy

from hstool.cli.common import flag_for, handled
from hstool.errors import EXIT_DATA, EXIT_USAGE, InputError, OptionError, UsageError, option_ref
from hstool.infer.chunks import Shard


def test_the_library_names_the_field_not_the_flag() -> None:
    with pytest.raises(OptionError) as caught:
        Shard.parse("5/4")
    assert caught.value.field == "shard"
    assert str(caught.value) == "shard='5/4': expected i/N with 0 <= i < N, e.g. 0/4 ... 3/4"
    assert isinstance(caught.value, UsageError)  # same exit code as before: 2


def test_numbers_and_paths_are_shown_bare() -> None:
    assert str(OptionError("batch_size", 0, "must be at least 1")) == "batch_size=0: must be at least 1"
    assert str(OptionError("out_dir", "a b/", "is a file", quoted=False)) == "out_dir=a b/: is a file"
    assert OptionError("chunk_size", 0, "must be at least 1").command_line_text(flag_for) == (
        "--chunk-size 0: must be at least 1"
    )


def test_flags_follow_the_field_name_unless_the_command_says_otherwise() -> None:
    assert flag_for("batch_size") == "--batch-size"
    assert flag_for("label_col", {"label_col": "--col"}) == "--col"
    assert flag_for("seed", {"label_col": "--col"}) == "--seed"


def test_handled_shows_the_commands_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as caught, handled(flags={"label_col": "--col"}):
        raise OptionError("label_col", "pneumothorax", "no such column in labels.csv")
    assert caught.value.exit_code == EXIT_USAGE
    assert capsys.readouterr().err == "hs: error: --col 'pneumothorax': no such column in labels.csv\n"


def test_other_options_in_a_message_are_named_in_the_callers_terms(capsys: pytest.CaptureFixture[str]) -> None:
    error = InputError(f"x.png: unreadable; or pass {option_ref('on_error')} skip to go on")
    assert str(error) == "x.png: unreadable; or pass on_error skip to go on"
    with pytest.raises(typer.Exit) as caught, handled():
        raise error
    assert caught.value.exit_code == EXIT_DATA
    assert capsys.readouterr().err == "hs: error: x.png: unreadable; or pass --on-error skip to go on\n"
    rule = OptionError("holdout", 0.0, f"keep it above 0, or choose another {option_ref('ks')}")
    assert str(rule) == "holdout=0.0: keep it above 0, or choose another ks"
    assert rule.command_line_text(lambda field: flag_for(field, {"ks": "--k"})) == (
        "--holdout 0.0: keep it above 0, or choose another --k"
    )


def test_the_command_line_names_the_flag(sample_workspace: Path, tmp_path: Path, run_hs) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(sample_workspace, folder, copy_function=link_or_copy)
    result = run_hs("predict", "model.onnx", "manifest.csv", "-o", "p.csv", "--shard", "5/4", cwd=folder)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.decode() == "hs: error: --shard '5/4': expected i/N with 0 <= i < N, e.g. 0/4 ... 3/4\n"
    assert not (folder / "p.csv").exists()


def test_a_commands_table_names_flags_that_differ_from_fields(run_hs, tmp_path: Path) -> None:
    """hs synth's sources are BaseSource fields npz/idx/manifest, shown as --from-*."""
    result = run_hs("synth", "--from-npz", "a.npz", "--root", "x", "--out-dir", "o", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.decode() == "hs: error: --root applies to --from-manifest only\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # audit/groups.py raises OptionError("bins", ...): shown with the flag, as before.
        (
            ("stratify", "preds.csv", "labels.csv", "--bins", "age=q1"),
            "--bins 'age=q1': quantile bins need qN with N >= 2, e.g. age=q4",
        ),
        # audit/calibrate.py names the field `targets`; hs calibrate's table shows --target.
        (("calibrate", "preds.csv", "labels.csv", "--target", "sens=2"), "--target: "),
        # io/tables.py names id_col by option_ref; the flag is --id-col.
        (("stratify", "preds.csv", "labels.csv", "--id-col", "case"), "pass the right name with --id-col"),
    ],
)
def test_library_fields_reach_the_command_line_as_flags(sample_workspace: Path, run_hs, args, message) -> None:
    result = run_hs(*args, cwd=sample_workspace)
    assert result.returncode in (EXIT_USAGE, EXIT_DATA)
    err = result.stderr.decode()
    assert err.startswith("hs: error: ") and err.count("\n") == 1
    assert message in err
    assert "{option:" not in err and "_col" not in err
