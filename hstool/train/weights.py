"""`--weights PATH`: initialise a classifier from a local file, never from the network.

Accepted files (read with `torch.load(weights_only=True)`, so no code in them runs):
- a torchvision state dict of the same architecture (e.g. ImageNet weights saved with
  `torch.save(model.state_dict(), ...)`, or the `.pth` files torchvision downloads; DenseNet
  files with the old `norm.1`-style key names are renamed as torchvision does). Its ImageNet
  head is discarded: hs adds its own classification head;
- an hs `model.pt` (or a checkpoint from `checkpoints/`, which holds one under `model`): every
  tensor, the head too when the number of classes matches;
- either of those wrapped as `{"state_dict": ...}` or with DDP's `module.` prefix.

RGB filters of the first convolution loaded into a 1-channel model are summed over their
input channels (grey x 3 through RGB filters is the same as grey through the summed filter);
1-channel filters loaded into an RGB model are divided by 3 and repeated.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from hstool.errors import LISTED, InputError, first_line, option_ref
from hstool.train.architectures import SMALL_CNN, Classifier, arch_spec

# torchvision's DenseNet files predate a rename: 'denselayer1.norm.1.weight' is now 'denselayer1.norm1.weight'.
_OLD_DENSENET = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def load_weights(model: Classifier, path: str, arch: str) -> str:
    """Copy the tensors of `path` into `model`; returns a one-line summary for the terminal.
    InputError (one line) when the file is unreadable or does not fit the architecture."""
    state = read_state_dict(path)
    own = model.state_dict()
    if not any(k.startswith(("net.", "head.")) for k in state):
        state = _from_torchvision(state, arch)
    head = {k for k in own if k.startswith("head.")}
    # A head trained for another number of classes is not reused: the new one starts fresh.
    new_head = any(k not in state or state[k].shape != own[k].shape for k in head)
    if new_head:
        state = {k: v for k, v in state.items() if k not in head}
    first = _first_conv_key(arch)
    if first in state and first in own and state[first].shape != own[first].shape:
        state[first] = _adapt_channels(state[first], own[first].shape[1], path)
    expected = set(own) - head if new_head else set(own)
    problem = mismatch(state, own, expected)
    if problem:
        raise InputError(
            f"{option_ref('weights')} {path}: does not fit {arch}: {problem}; pass weights saved from the same architecture"
        )
    model.load_state_dict(state, strict=not new_head)
    return f"initialised {len(state)} tensors from {path}" + (" (new classification head)" if new_head else "")


def mismatch(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], expected: set[str]) -> str:
    """What keeps `state` from loading into a model whose state dict is `own` (the `expected`
    keys of it must be there): missing and unexpected keys, tensors of another shape; "" if none."""
    # Files saved before BatchNorm counted its batches lack num_batches_tracked; torch fills it.
    missing = sorted(k for k in expected - set(state) if not k.endswith(".num_batches_tracked"))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    return "; ".join(
        f"{len(keys)} {what} ({', '.join(keys[:LISTED])}{', ...' if len(keys) > LISTED else ''})"
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("tensors of another shape", wrong),
        )
        if keys
    )


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The state dict in `path` (also under 'state_dict' or 'model', DDP's 'module.' prefix
    removed), read with weights_only=True: a pickled model object is refused, never unpickled."""
    if not Path(path).is_file():
        raise InputError(
            f"{option_ref('weights')} {path}: no such file; pass a local state dict (.pt/.pth); hs never downloads weights"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and unpickler errors all mean: not a weights file
        first = first_line(exc)
        if "Unsupported global" in str(exc):
            # weights_only's unpickler stops at the first class it does not allow, before building anything.
            raise InputError(
                f"{option_ref('weights')} {path}: holds a pickled Python object (a whole model), not a state dict; it was not "
                "unpickled; save model.state_dict() with torch.save and pass that file"
            ) from None
        raise InputError(
            f"{option_ref('weights')} {path}: not a PyTorch weights file readable with weights_only=True ({first})"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(
            f"{option_ref('weights')} {path}: holds no state dict (a mapping of names to tensors); save model.state_dict()"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _from_torchvision(state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    head = arch_spec(arch).head
    out = {}
    for key, value in state.items():
        if head and key.startswith(head + "."):
            continue  # the ImageNet classifier
        match = _OLD_DENSENET.match(key)
        out["net." + (match.group(1) + match.group(2) if match else key)] = value
    return out


def _first_conv_key(arch: str) -> str:
    spec = arch_spec(arch)
    return "net.0.weight" if arch == SMALL_CNN else f"net.{spec.first_conv}.weight"


def _adapt_channels(weight: torch.Tensor, channels: int, path: str) -> torch.Tensor:
    have = weight.shape[1]
    if have == 3 and channels == 1:
        return weight.sum(dim=1, keepdim=True)
    if have == 1 and channels == 3:
        return weight.repeat(1, 3, 1, 1) / 3
    raise InputError(
        f"{option_ref('weights')} {path}: the first convolution takes {have} channels, the model {channels}; pass {option_ref('channels')} {have}"
    )
