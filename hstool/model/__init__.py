"""Models. Inference (no torch): ONNX Runtime sessions for hs models (`runtime.py`), batch
inference over a manifest with chunked, resumable and sharded output (`inference.py`,
`chunks.py`, `preds_format.py`), and merging shard outputs (`merge.py`). onnxruntime is
imported only in this package, and only inside the functions that need it."""
