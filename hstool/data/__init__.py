"""Image data: manifests (`manifest.py`), decoding PNG/JPEG/DICOM/.npy into arrays (`images.py`,
`dicom.py`), model-input preprocessing (`preprocess.py`), and writing and checking manifests
(`folder.py`, `build.py` with `idx.py`, `check.py`). No torch here: these modules serve every
command."""
