"""Audits on predictions, labels and embeddings: stratify (schema completion) and cluster.
Never imports torch."""
