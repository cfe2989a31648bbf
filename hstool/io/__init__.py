"""File contracts: reading and validating tables and arrays, atomic writes, sidecars, rendering."""
