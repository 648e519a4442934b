"""Learners: how parameters change (`init`, `step`); see base.py."""
