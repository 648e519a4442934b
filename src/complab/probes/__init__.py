"""Analyses of trained models and data (decoders, metrics, comparisons with algorithms)."""
