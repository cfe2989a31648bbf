"""Saliency maps: where a model looks (occlusion sensitivity through ONNX Runtime; Grad-CAM
from the PyTorch checkpoint lives in hstool.train.gradcam), their overlays, their index file,
and scores against planted regions. No torch here."""
