"""Training and export (PyTorch): architectures (`architectures.py`), augmentation
(`augment.py`), image loading for training (`loading.py`), the training plan and its
experiments (`plan.py`, `experiments.py`, `config.py`), the loop (`train_loop.py`, `training.py`),
checkpoints and pretrained weights (`checkpoints.py`, `weights.py`), multi-GPU runs
(`distributed.py`), the output folder (`outputs.py`) and ONNX export (`export.py`).

This is the only package besides `hstool.infer` that needs the ML stack, and the only one that
imports torch."""
