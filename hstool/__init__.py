"""hs: find where medical imaging models silently fail (hidden stratification audits)."""

__version__ = "0.1.0"
