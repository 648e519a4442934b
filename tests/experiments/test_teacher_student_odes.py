"""The tracking measure: a curve tracks itself, and fails when shifted in time or in
error beyond the stated tolerances."""

import numpy as np

from complab.experiments import teacher_student_odes as ts

T = np.geomspace(0.01, 1000, 40)


def _curve(shift=1.0):
    """A plateau at 2e-2 from t ~ 10, a drop at t ~ 200 * shift, an asymptote at 1e-3."""
    t = T / shift
    return 0.4 / (1 + t) + 2e-2 / (1 + (t / 200) ** 6) + 1e-3


def test_a_curve_tracks_itself_and_its_exit_time_is_found():
    dev, t_sim, t_ode = ts.compare(T, _curve(), _curve())
    assert dev == 0 and t_sim == t_ode and 150 < t_ode < 400


def test_a_shift_in_time_within_tolerance_passes_and_beyond_fails():
    _, t_sim, t_ode = ts.compare(T, _curve(1.15), _curve())
    assert abs(t_sim / t_ode - 1) <= ts.EXIT_TOLERANCE
    dev, t_sim, t_ode = ts.compare(T, _curve(1.6), _curve())
    assert t_sim / t_ode - 1 > ts.EXIT_TOLERANCE


def test_the_end_is_compared_too():
    late = _curve() * np.where(T > 600, 1.5, 1.0)  # a different error reached after the drop
    dev, t_sim, t_ode = ts.compare(T, late, _curve())
    assert dev > ts.LOG_TOLERANCE and t_sim == t_ode


def test_an_error_off_by_more_than_the_tolerance_fails():
    dev, _, _ = ts.compare(T, _curve() * 1.5, _curve())
    assert dev > ts.LOG_TOLERANCE
