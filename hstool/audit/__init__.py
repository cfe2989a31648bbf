"""Audits on predictions, labels and embeddings: stratify (schema completion: `stratify.py`,
`strata_*.py`, `groups.py`), label agreement (`agree*.py`), operating points and calibration
(`operating_point.py`, `calibrate.py`), shortcut probes (`probe.py`) and the clusters of
`cluster/`. Never imports torch."""
