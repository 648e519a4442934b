"""Sequence mixers: one per file, each with a parallel and (if recurrent) a step form."""
