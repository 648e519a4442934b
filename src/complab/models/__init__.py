"""Models: Equinox modules built as `Model(cfg, *, key)`, one example at a time."""
