"""Command-line layer: one small module per command. The only place that imports Typer."""
