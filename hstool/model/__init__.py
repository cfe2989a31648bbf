"""Models: ONNX Runtime sessions for hs models (`runtime.py`), batch inference over a manifest
with chunked, resumable and sharded output (`inference.py`, `chunks.py`, `outputs.py`), and
merging shard outputs (`merge.py`). onnxruntime is imported only here, and only inside
functions that need it; inference never needs torch."""
