"""Sweeps: an experiment's cells x grid values x seeds, each (grid point, seed) a trial
run by a pool of worker processes (`local`) or on Ray (`ray`), every trial writing
its runs to the same results database; the claim is judged per grid point once all
its trials are in. See `driver.sweep`."""
