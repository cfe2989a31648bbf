"""Inference with ONNX Runtime (never torch): sessions for hs models (`runtime.py`), the
decoding worker pool that feeds them (`decode_pool.py`), batch inference over a manifest with
chunked, resumable and sharded output (`inference.py`, `chunks.py`, `preds_format.py`), and
merging shard outputs (`merge.py`). onnxruntime is imported only in this package, and only
inside the functions that need it."""
