"""Analytic predictions (closed forms, ODEs) as pure functions."""
