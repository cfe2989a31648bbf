"""Algorithmic measurement: clusters of a model's own penultimate features within each class.
Inputs and their join (`inputs.py`), the feature space (`space.py`), k-means and error-aware
mixtures (`kmeans.py`, `mixture.py`), the search over k (`search.py`) and choice of the reported
clusters (`select.py`), their statistics (`stats.py`), the run (`run.py`) and its tables
(`views.py`); and, where subclasses are known, how well clusters recover them (`planted.py`,
`discovery.py`). Never imports torch."""
