"""Image data: manifests (`manifest.py`), decoding PNG/JPEG/DICOM/.npy into arrays (`images.py`,
`dicom.py`), model-input preprocessing (`preprocess.py`) and building manifests from folders and
array files (`build.py`, `idx.py`). No torch here: these modules serve every command."""
