"""Statistics on plain numpy arrays: AUC with DeLong variance, proportions, thresholds,
multiplicity and bootstrap. Never imports torch; see docs/statistics.md for the methods."""
