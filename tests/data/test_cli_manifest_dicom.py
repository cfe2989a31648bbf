"""`hs manifest dicom` on an archive built from the real fixtures, `hs manifest check --group-col`,
and the DICOM route end to end: manifest -> hs predict -> hs stratify by header metadata."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import polars as pl
import pytest
from dicom_archive import BASIC_TEXT_SR, STUDY_DATE, fixture_copy, identifiers, small_dicom, uid

from hstool.cli.manifest import DICOM_EPILOG
from hstool.data.dicom_headers import patient_key

KEY = b"0123456789abcdef-site-key"
SIIM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"


def _image(i: int, patient: str, rel: str, age: str | None, sex: str, maker: str, view: str | None) -> dict:
    return {"i": i, "patient": patient, "rel": rel, "age": age, "sex": sex, "maker": maker, "view": view}


# Nested patient/study/series folders, files without extensions; ids as the archive gives them.
IMAGES = [
    _image(1, "01", "p01/st1/se1/im1", "045Y", "F", "GE Healthcare", "AP"),
    _image(2, "01", "p01/st2/se1/im2.dcm", "006M", "M", "SIEMENS", "PA"),
    _image(3, "02", "p02/st1/se1/IM3", "010W", "F", "GE Healthcare", "PA"),
    _image(4, "03", "p03/st1/se1/im4", "003D", "O", "Agfa", None),
    _image(5, "03", "p03/st1/se2/im5", None, "M", "Agfa", "AP"),
]


@pytest.fixture
def archive(data_dir, tmp_path) -> Path:
    """The archive of IMAGES (copies of the real SIIM-ACR fixture, re-tagged), plus a
    multi-frame image, a structured report, an image without pixel data, a text file named
    .dcm, a README, and one preamble-less file."""
    top = tmp_path / "archive"
    fixtures = data_dir / "xray-fixtures"
    for im in IMAGES:
        source = fixtures / ("Fake_MONOHR1.dcm" if im["i"] == 3 else SIIM)
        tags = {
            "PatientAge": im["age"],
            "PatientSex": im["sex"],
            "Manufacturer": im["maker"],
            "ViewPosition": im["view"],
        }
        fixture_copy(source, top / im["rel"], im["i"], im["patient"], **tags)
    small_dicom(top / "p04" / "cine", 6, "04", frames=2)
    small_dicom(top / "p04" / "report.dcm", 7, "04", pixels=False, sop_class=BASIC_TEXT_SR)
    fixture_copy(fixtures / SIIM, top / "p04" / "nopixels", 8, "04", PixelData=None)
    small_dicom(top / "old" / "raw", 9, "05", preamble=False, Manufacturer="Philips", PatientAge="081Y")
    (top / "p04" / "notes.dcm").write_text("not a DICOM file\n")
    (top / "README.txt").write_text("archive exported 2019\n")
    return top


OTHERS = [(6, "04"), (7, "04"), (8, "04"), (9, "05")]  # the non-images and the preamble-less file
SECRETS = [v for i, p in [(im["i"], im["patient"]) for im in IMAGES] + OTHERS for v in identifiers(i, p).values()]


def assert_no_identifiers(folder: Path, archive: Path, secrets: list[str], *streams: bytes) -> None:
    """No name, Patient ID, date, accession number or study/series UID (nor the fixture's own
    Patient ID and study date) in any byte of any table or sidecar written under `folder`, or
    in `streams`; each value is first found in the DICOM files of `archive`, so the search
    looks for the right bytes."""
    written = [p.read_bytes() for p in folder.rglob("*") if p.suffix in (".csv", ".json")]
    assert written, "nothing was written"
    dicom = b"".join(p.read_bytes() for p in archive.rglob("*") if p.is_file() and p.suffix not in (".csv", ".json"))
    for value in {*secrets, STUDY_DATE}:
        needle = value.encode()
        assert needle in dicom, value
        for data in written + list(streams):
            assert needle not in data, value
            assert needle.replace(b"^", b" ") not in data, value


def test_skip_lists_non_images_and_keeps_identifiers_out(archive, tmp_path, run_hs):
    (tmp_path / "key").write_bytes(KEY)
    res = run_hs(
        "manifest", "dicom", "archive", "-o", "archive/manifest.csv", "--labels-out", "meta.csv",
        "--on-error", "skip", "--patient-key", "--key-file", "key", "--tags", "KVP,ImagerPixelSpacing",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == b""
    assert b"6 DICOM images, 4 skipped, 1 non-DICOM files ignored" in res.stderr
    manifest = pl.read_csv(archive / "manifest.csv", infer_schema_length=None)
    assert manifest.columns == [
        "image_id", "path", "Modality", "Manufacturer", "ManufacturerModelName", "ViewPosition", "BodyPartExamined",
        "PatientSex", "PatientAge", "PhotometricInterpretation", "BitsStored", "Rows", "Columns", "PixelSpacing",
        "KVP", "ImagerPixelSpacing", "patient_key",
    ]  # fmt: skip
    rows = {r["path"]: r for r in manifest.to_dicts()}
    assert sorted(rows) == sorted(["old/raw"] + [im["rel"] for im in IMAGES])
    for im in IMAGES:
        row = rows[im["rel"]]
        assert row["image_id"] == uid(f"image-{im['i']}")  # the SOP Instance UID
        assert (row["Manufacturer"], row["ViewPosition"], row["PatientSex"]) == (im["maker"], im["view"], im["sex"])
        assert (row["Modality"], row["BodyPartExamined"], row["Rows"], row["PixelSpacing"]) == (
            "CR",
            "CHEST",
            1024,
            0.168,
        )
        assert row["patient_key"] == patient_key(KEY, f"PID-{im['patient']}-7731")
    ages = [rows[im["rel"]]["PatientAge"] for im in IMAGES]
    assert ages == [45.0, 0.5, round(70 / 365.25, 4), round(3 / 365.25, 4), None]
    assert rows["p02/st1/se1/IM3"]["PhotometricInterpretation"] == "MONOCHROME1"
    assert rows["old/raw"]["Manufacturer"] == "Philips" and rows["old/raw"]["PatientAge"] == 81.0
    assert rows["p01/st1/se1/im1"]["patient_key"] == rows["p01/st2/se1/im2.dcm"]["patient_key"]
    assert len({r["patient_key"] for r in rows.values()}) == 4
    assert manifest["patient_key"].dtype == pl.String and manifest["patient_key"].str.starts_with("pk").all()
    errors = pl.read_csv(archive / "manifest.csv.errors.csv").rows()
    assert [(p, r.split(" (")[0].split(";")[0]) for p, r in errors] == [
        ("p04/cine", "unsupported: multi-frame image"),
        ("p04/nopixels", "unsupported: no pixel data"),
        ("p04/notes.dcm", "corrupt: not a DICOM file"),
        ("p04/report.dcm", "unsupported: no pixel data"),
    ]
    assert "Basic Text SR Storage" in errors[3][1]
    meta = pl.read_csv(tmp_path / "meta.csv")
    assert meta.columns == ["image_id"] + manifest.columns[2:]
    assert meta.sort("image_id").equals(manifest.drop("path").sort("image_id"))
    sidecar = json.loads((archive / "manifest.csv.meta.json").read_text())
    assert sidecar["schema"] == "hs.manifest/1" and sidecar["rows"] == 6
    dicom = sidecar["dicom"]
    assert dicom["files"] == {"seen": 11, "images": 6, "skipped": 4, "dicomdir": 0, "not_dicom": 1}
    assert dicom["exported_tags"][-2:] == ["KVP", "ImagerPixelSpacing"] and dicom["image_id"] == "SOPInstanceUID"
    assert (
        dicom["patient_key"]["key"] == "key file"
        and KEY.decode() not in (archive / "manifest.csv.meta.json").read_text()
    )
    assert json.loads((tmp_path / "meta.csv.meta.json").read_text())["schema"] == "hs.dicom-metadata/1"
    written = [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".csv", ".json")]
    assert sorted(written) == sorted(
        ["manifest.csv", "manifest.csv.meta.json", "manifest.csv.errors.csv", "meta.csv", "meta.csv.meta.json"]
    )
    assert_no_identifiers(tmp_path, archive, SECRETS, res.stdout, res.stderr)


def test_default_fails_on_the_first_non_image_and_writes_nothing(archive, tmp_path, run_hs):
    res = run_hs("manifest", "dicom", "archive", "-o", "archive/manifest.csv", "--labels-out", "meta.csv")
    assert res.returncode == 1
    lines = res.stderr.decode().strip().splitlines()
    assert lines == [
        "hs: error: archive/p04/cine: unsupported: multi-frame image (2 frames); export the frame to use; "
        "or pass --on-error skip to list such files and go on"
    ]
    assert not (archive / "manifest.csv").exists() and not (tmp_path / "meta.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["archive"]


def test_random_key_is_used_once_and_ids_from_paths(archive, tmp_path, run_hs):
    for name in ("a.csv", "b.csv"):
        res = run_hs(
            "manifest", "dicom", "archive", "-o", name, "--on-error", "skip", "--patient-key", "--image-id", "path"
        )
        assert res.returncode == 0, res.stderr
    a, b = (pl.read_csv(tmp_path / n) for n in ("a.csv", "b.csv"))
    assert a["image_id"].to_list() == [
        "old/raw",
        "p01/st1/se1/im1",
        "p01/st2/se1/im2",
        "p02/st1/se1/IM3",
        "p03/st1/se1/im4",
        "p03/st1/se2/im5",
    ]
    assert a["path"].to_list()[0] == "archive/old/raw"
    assert a["patient_key"][1] == a["patient_key"][2] and a["patient_key"][1] != b["patient_key"][1]
    meta_a, meta_b = (json.loads((tmp_path / f"{n}.meta.json").read_text()) for n in ("a.csv", "b.csv"))
    assert meta_a["dicom"]["patient_key"]["key"] == "random, used once and never written"
    assert meta_a["dicom"]["patient_key"]["key_id"] != meta_b["dicom"]["patient_key"]["key_id"]


def test_same_key_gives_identical_files(archive, tmp_path, run_hs):
    (tmp_path / "key").write_bytes(KEY + b"\n")  # a trailing newline is not part of the key
    for name in ("a.csv", "b.csv"):
        run_hs("manifest", "dicom", "archive", "-o", name, "--on-error", "skip", "--patient-key", "--key-file", "key")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    # Rerun into the archive itself: the first run's outputs are not taken for archive files.
    written = []
    for _ in range(2):
        args = ["-o", "archive/manifest.csv", "--labels-out", "archive/meta.csv", "--on-error", "skip"]
        assert run_hs("manifest", "dicom", "archive", *args).returncode == 0
        written.append([(archive / n).read_bytes() for n in ("manifest.csv", "manifest.csv.meta.json", "meta.csv")])
    assert written[0] == written[1]
    assert patient_key(KEY, "PID-01-7731").encode() in (tmp_path / "a.csv").read_bytes()


def test_duplicate_sop_instance(data_dir, tmp_path, run_hs):
    top = tmp_path / "dup"
    fixture_copy(data_dir / "xray-fixtures" / SIIM, top / "a", 1, "01")
    (top / "copy").write_bytes((top / "a").read_bytes())
    res = run_hs("manifest", "dicom", "dup")
    assert res.returncode == 1
    assert res.stderr.decode() == (
        "hs: error: dup/a and dup/copy hold the same image (same image id): a copy of the file? "
        "remove one, or use path-based image ids (--image-id path)\n"
    )
    res = run_hs("manifest", "dicom", "dup", "--image-id", "path")
    assert res.returncode == 0 and res.stdout.decode().splitlines()[1].startswith("a,dup/a,CR,")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--tags", "PatientName"], 2, "--tags: PatientName holds a person's name, which hs never exports"),
        (["--tags", "AccessionNumber"], 2, "--tags: AccessionNumber holds an identifier"),
        (["--tags", "StudyDate"], 2, "--tags: StudyDate holds a date"),
        (["--tags", "ReferencedImageSequence"], 2, "--tags: ReferencedImageSequence is a sequence"),
        (["--tags", "Kvp"], 2, "--tags: 'Kvp' is not a DICOM keyword"),
        (["--key-file", "key"], 2, "--key-file is the key of --patient-key; add --patient-key"),
        (["--patient-key", "--key-file", "empty.key"], 1, "empty.key: the key file holds 0 bytes"),
        (["--patient-key", "--key-file", "short.key"], 1, "short.key: the key file holds 5 bytes"),
        (["--patient-key", "--key-file", "missing.key"], 1, "missing.key: cannot read the key file (No such file"),
        (["--on-error", "skip"], 2, "--on-error skip lists the skipped files in OUTPUT.errors.csv"),
        (["--on-error", "ignore"], 2, "--on-error 'ignore': choose one of fail, skip"),
        (["--image-id", "name"], 2, "--image-id 'name': choose one of uid, path"),
        (["--workers", "-1"], 2, "--workers -1: give 0"),
        (["--labels-out", "-"], 2, "--labels-out needs a file name"),
    ],
)
def test_bad_options(archive, tmp_path, run_hs, args, code, message):
    (tmp_path / "empty.key").write_bytes(b" \n")
    (tmp_path / "short.key").write_bytes(b"12345")
    res = run_hs("manifest", "dicom", "archive", *args)
    assert res.returncode == code
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hs: error: {message}"), lines
    assert res.stdout == b""


def test_not_a_folder_and_no_images(tmp_path, run_hs):
    res = run_hs("manifest", "dicom", "nowhere")
    assert res.returncode == 1 and b"nowhere: no such folder" in res.stderr
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text")
    res = run_hs("manifest", "dicom", "docs")
    assert res.returncode == 1
    assert b"docs: no single-frame DICOM image among 1 files (0 skipped, 1 not DICOM)" in res.stderr


def test_parallel_workers_give_the_same_manifest(tmp_path, run_hs):
    for i in range(140):
        small_dicom(tmp_path / "many" / f"s{i % 7}" / f"{i:03d}", i, f"{i % 9}", size=8, PatientAge=f"{i % 90:03d}Y")
    (tmp_path / "key").write_bytes(KEY)
    outputs = []
    for workers in ("0", "2"):
        res = run_hs("manifest", "dicom", "many", "--workers", workers, "--patient-key", "--key-file", "key")
        assert res.returncode == 0, res.stderr
        outputs.append(res.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 141


def test_split_overlap(archive, tmp_path, run_hs):
    (tmp_path / "key").write_bytes(KEY)
    run_hs(
        "manifest",
        "dicom",
        "archive",
        "-o",
        "archive/manifest.csv",
        "--on-error",
        "skip",
        "--patient-key",
        "--key-file",
        "key",
    )
    manifest = pl.read_csv(archive / "manifest.csv")
    splits = {
        "p01/st1/se1/im1": "train",
        "p01/st2/se1/im2.dcm": "test",
        "p03/st1/se1/im4": "val",
        "p03/st1/se2/im5": "val",
    }
    manifest = manifest.with_columns(pl.col("path").replace_strict(splits, default="train").alias("split"))
    manifest.write_csv(archive / "split.csv")
    res = run_hs("manifest", "check", "archive/split.csv", "--group-col", "patient_key")
    assert res.returncode == 1
    assert res.stdout.decode().splitlines() == [
        "patient_key,splits,n,n_train,n_val,n_test",
        f"{patient_key(KEY, 'PID-01-7731')},train;test,2,1,0,1",
    ]
    assert (
        res.stderr.decode()
        .splitlines()[-1]
        .startswith("hs: error: archive/split.csv: 1 patient_key value(s) in more than one split (first: ")
    )
    assert b"1 of 4 patient_key values in more than one split" in res.stderr
    res = run_hs(
        "manifest", "check", "archive/split.csv", "--group-col", "patient_key", "--allow-overlap", "-o", "overlap.csv"
    )
    assert res.returncode == 0 and res.stdout == b""
    assert pl.read_csv(tmp_path / "overlap.csv").height == 1
    assert json.loads((tmp_path / "overlap.csv.meta.json").read_text())["schema"] == "hs.split-overlap/1"
    # Patient-disjoint: nothing to report.
    manifest.with_columns(split=pl.lit("test")).write_csv(archive / "disjoint.csv")
    res = run_hs("manifest", "check", "archive/disjoint.csv", "--group-col", "patient_key")
    assert res.returncode == 0 and res.stdout.decode().splitlines() == ["patient_key,splits,n,n_train,n_val,n_test"]
    res = run_hs("manifest", "check", "archive/manifest.csv", "--group-col", "patient_key")
    assert res.returncode == 1 and b"has no 'split' column" in res.stderr
    res = run_hs("manifest", "check", "archive/split.csv", "--group-col", "PatientID")
    assert res.returncode == 1 and b"has no column 'PatientID' to group by" in res.stderr


def test_help_examples_run(archive, tmp_path, run_hs):
    (tmp_path / "archive" / "site.key").write_bytes(KEY)
    examples = [
        line.split("#")[0].strip() for line in DICOM_EPILOG.splitlines() if line.strip().startswith("hs manifest dicom")
    ]
    assert len(examples) == 3
    for example in examples:
        args = [a.replace("site.key", "archive/site.key") for a in shlex.split(example)[1:]]
        if "--on-error" not in args:
            args += ["--on-error", "skip"]  # the archive holds non-images on purpose
        res = run_hs(*args)
        assert res.returncode == 0, (example, res.stderr)


def test_predict_and_stratify_by_header_metadata(tmp_path, run_hs):
    """The issue's route: DICOM archive -> manifest + metadata -> hs predict -> hs stratify."""
    from onnx_models import TinyModel

    makers, views = ("GE Healthcare", "SIEMENS", "Agfa"), ("AP", "PA")
    truth = {}
    for i in range(60):
        patient = f"{i // 2:02d}"
        age = f"{(i * 7) % 95:03d}Y" if i % 10 else f"{(i % 12) + 1:03d}M"
        small_dicom(
            tmp_path / "study" / f"p{patient}" / f"{i:02d}", i, patient, size=64, Manufacturer=makers[i % 3],
            ViewPosition=views[(i // 3) % 2], PatientSex="MF"[i % 2], PatientAge=age,
        )  # fmt: skip
        truth[uid(f"image-{i}")] = i % 2
    res = run_hs("manifest", "dicom", "study", "-o", "study/manifest.csv", "--labels-out", "meta.csv", "--patient-key")
    assert res.returncode == 0, res.stderr
    TinyModel(["0", "1"], size=(16, 16)).save(tmp_path / "model.onnx")
    res = run_hs("predict", "model.onnx", "study/manifest.csv", "-o", "preds.csv", "--workers", "0")
    assert res.returncode == 0, res.stderr
    meta = pl.read_csv(tmp_path / "meta.csv")
    labels = meta.with_columns(label=pl.col("image_id").replace_strict(truth, return_dtype=pl.Int64))
    labels.write_csv(tmp_path / "labels.csv")
    res = run_hs(
        "stratify", "preds.csv", "labels.csv", "--by", "Manufacturer", "--by", "ViewPosition",
        "--bins", "PatientAge=0,40,65,120", "-o", "strata.csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    strata = pl.read_csv(tmp_path / "strata.csv")
    groups = {(s, g): n for s, g, n in strata.select("stratifier", "group", "n").rows()}
    assert groups[("Manufacturer", "Agfa")] == groups[("Manufacturer", "SIEMENS")] == 20
    assert groups[("ViewPosition", "AP")] == groups[("ViewPosition", "PA")] == 30
    ages = meta["PatientAge"].to_numpy()
    expected = [int(((ages >= lo) & (ages < hi)).sum()) for lo, hi in ((0, 40), (40, 65))] + [int((ages >= 65).sum())]
    assert [groups[("PatientAge", g)] for g in ("[0, 40)", "[40, 65)", "[65, 120]")] == expected
    assert sum(expected) == 60 and min(expected) > 0
    assert_no_identifiers(
        tmp_path, tmp_path / "study", [v for i in range(60) for v in identifiers(i, f"{i // 2:02d}").values()]
    )


def test_dicomdir_is_the_index_not_an_error(tmp_path, run_hs):
    """A media export (CD, USB): DICOMDIR plus PT*/ST*/SE*/IM* files, written by pydicom."""
    from pydicom.fileset import FileSet

    fileset = FileSet()
    for i in range(3):
        tags = {"StudyTime": "101500", "StudyID": "S1", "SeriesNumber": 1, "InstanceNumber": i + 1}
        fileset.add(str(small_dicom(tmp_path / "src" / f"{i}", i, "01", Manufacturer="Agfa", **tags)))
    fileset.write(tmp_path / "export")
    res = run_hs("manifest", "dicom", "export", "-o", "export/manifest.csv")
    assert res.returncode == 0, res.stderr
    assert b"3 DICOM images, 1 DICOMDIR files ignored" in res.stderr
    manifest = pl.read_csv(tmp_path / "export" / "manifest.csv")
    assert manifest["path"].to_list() == [f"PT000000/ST000000/SE00000{i}/IM000000" for i in range(3)]
    assert json.loads((tmp_path / "export" / "manifest.csv.meta.json").read_text())["dicom"]["files"]["dicomdir"] == 1
