"""Derived image sets with known ground truth, written from real images: planting hidden strata
(`spec.py` parses the plan, `base.py` reads the base images, `plan.py` assigns subclasses,
`plant.py` draws drains and lesions, `run.py` writes the set) and perturbing images for shortcut
probes (`perturb.py` holds the filters, `perturbed.py` writes a perturbed copy of a manifest).
Both write an image folder and a manifest through `hstool.data.build`; neither is needed to read
data. No torch here."""
