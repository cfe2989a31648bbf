"""Grad-CAM (Selvaraju et al., ICCV 2017) on the last convolutional block of an `hs train`
model, from its PyTorch checkpoint (the ONNX graph has no gradients).

For the explained class's logit y and the activations A (K maps of h x w) of the target layer,
each map's weight is the spatial mean of dy/dA_k, and the map is ReLU(sum_k w_k A_k): h x w,
upsampled bilinearly to the model's input geometry. For a binary model (one logit z for the
positive class) the negative class is explained with -z.

The target layer is the last layer, in the order the forward pass runs, that outputs a 4-D
tensor with more than one pixel, at or after the last Conv2d: for the small CNN the ReLU of
its third block, for ResNet/ResNeXt the last bottleneck of layer4 (its ReLU after the residual
sum), for DenseNet the final batch norm of `features`. A network without a Conv2d has no such
layer, and Grad-CAM is refused with that reason (occlusion works for any model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hstool.data.preprocess import Preprocessing
from hstool.errors import InputError, UsageError, first_line
from hstool.train.architectures import ARCHITECTURES, Classifier, Normalise, build_model
from hstool.train.checkpoints import FORMAT

# Largest difference allowed between the checkpoint's probabilities and model.onnx's on the
# same images; the exporter's own parity check uses 1e-4, so anything larger means another model.
PARITY = 1e-3


def load_classifier(path: str, *, architecture: str | None, n_classes: int, channels: int) -> Classifier:
    """The Classifier of an `hs train` checkpoint (model.pt or checkpoints/*.pt), in eval mode,
    rebuilt with the architecture and classes recorded in model.onnx."""
    if architecture not in ARCHITECTURES:
        raise UsageError(
            f"Grad-CAM needs an hs train architecture ({', '.join(ARCHITECTURES)}); the model's is {architecture!r}: "
            "use occlusion, which works for any model"
        )
    if not Path(path).is_file():
        raise InputError(f"{path}: no such checkpoint; pass the model.pt that hs train wrote next to model.onnx")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(
            f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}); pass hs train's model.pt"
        ) from None
    if isinstance(state, dict) and state.get("format") == FORMAT:
        state = state["model"]
    model = build_model(architecture, n_outputs=1 if n_classes == 2 else n_classes, channels=channels)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = first_line(exc)
        raise InputError(
            f"{path}: does not hold the weights of a {architecture} with {n_classes} classes ({first})"
        ) from None
    return model.eval()


def target_layer(model: Classifier, example: torch.Tensor) -> nn.Module:
    """The last convolutional block's output layer (see the module docstring)."""
    convs = [m for m in model.net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise UsageError(
            f"Grad-CAM needs a convolutional layer, and this {type(model.net).__name__} has none: use occlusion, "
            "which works for any model"
        )
    order: list[tuple[nn.Module, torch.Size]] = []
    leaves = [m for m in model.net.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, _i, out: order.append((m, out.shape))) for m in leaves]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    last_conv = max(i for i, (m, _) in enumerate(order) if isinstance(m, nn.Conv2d))
    spatial = [
        m for i, (m, shape) in enumerate(order) if i >= last_conv and len(shape) == 4 and shape[2] * shape[3] > 1
    ]
    return spatial[-1]


def class_activation(
    model: Classifier, layer: nn.Module, batch: torch.Tensor, targets: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Grad-CAM maps (N, h, w) at the layer's resolution, logits (N, outputs)) for normalised
    images `batch` and target class indices."""
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            logits, _ = model(batch)
            activations = captured[-1]
            index = torch.as_tensor(targets, dtype=torch.long)
            if logits.shape[1] == 1:  # binary: z for the positive class (index 1), -z for the other
                chosen = logits[:, 0] * (2.0 * index.to(logits.dtype) - 1.0)
            else:
                chosen = logits.gather(1, index[:, None])[:, 0]
            (grads,) = torch.autograd.grad(chosen.sum(), activations)
    finally:
        hook.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * activations).sum(dim=1)).detach(), logits.detach()


class GradCam:
    """Grad-CAM for one checkpoint: the model and its target layer, found once."""

    def __init__(self, model: Classifier, preprocessing: Preprocessing) -> None:
        self.model = model
        self.normalise = Normalise(preprocessing)
        example = torch.zeros((1, preprocessing.channels, *preprocessing.size))
        self.layer = target_layer(model, self.normalise(example))

    @classmethod
    def open(
        cls, checkpoint: str, *, architecture: str | None, n_classes: int, preprocessing: Preprocessing
    ) -> GradCam:
        model = load_classifier(
            checkpoint, architecture=architecture, n_classes=n_classes, channels=preprocessing.channels
        )
        return cls(model, preprocessing)

    def __call__(self, images: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(maps (N, H, W) float32 in the input geometry, probabilities (N, K) float32) for
        images (N, C, H, W) in [0, 1] (the model's own input) and target class indices."""
        batch = self.normalise(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)))
        cams, logits = class_activation(self.model, self.layer, batch, targets)
        size = (int(images.shape[2]), int(images.shape[3]))
        maps = F.interpolate(cams[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        if logits.shape[1] == 1:
            probs = torch.sigmoid(torch.cat([-logits, logits], dim=1))
        else:
            probs = torch.softmax(logits, dim=1)
        return maps.numpy().astype(np.float32), probs.numpy().astype(np.float32)


def check_parity(checkpoint: str, model_path: str, torch_probs: np.ndarray, onnx_probs: np.ndarray) -> None:
    """Refuse a checkpoint that is not the model: their probabilities must agree."""
    diff = float(np.abs(torch_probs - onnx_probs).max()) if torch_probs.size else 0.0
    if diff > PARITY:
        raise InputError(
            f"{checkpoint}: its probabilities differ from {model_path}'s by up to {diff:.3g} on the same images: "
            "it is not this model's checkpoint; pass the model.pt from the same hs train folder"
        )
