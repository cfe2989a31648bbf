"""Image data: manifests, decoding, and image perturbations. Never imports torch."""
