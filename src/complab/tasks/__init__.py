"""Data generators: each task samples `Batch`es from named splits (see base.py)."""
