"""`hs import`: turn a model made elsewhere into an hs model.onnx (docs/inference.md, "Bring your
own model"). ONNX only here (onnx and onnxruntime, never torch); PyTorch sources are exported to
ONNX by `hstool.train.import_torch` and then go through the same graph surgery."""
