"""The best single gradient-descent step on an in-context linear regression problem,
in closed form (the reference of von Oswald et al. 2023 and Zucchet et al. 2023).

From w_0 = 0, one GD step with learning rate eta on the context loss
L(w) = 1/(2N) sum_i (w.x_i - y_i)^2 predicts y^ = eta * s with
s = (1/N) sum_i y_i x_i . x_q (probes/gradient_descent.py computes s). For
x ~ N(0, I_d), w ~ N(0, I_d) and label noise sigma, using E[(x_i.x_q)^2] = d and
E[|x|^4] = d(d + 2):

    E[s y_q] = d,   E[s^2] = d (N + d + 1 + sigma^2) / N,

so the expected half squared query error (1/2) E[(eta s - y_q)^2] is minimised by

    eta* = N / (N + d + 1 + sigma^2),
    L(eta*) = (d + sigma^2) / 2 - d N / (2 (N + d + 1 + sigma^2)).

tests/theory/test_one_step_gd.py checks both against simulation.
"""


def optimal_lr(dim: int, context: int, noise: float) -> float:
    """The learning rate eta* minimising the expected query loss of one GD step."""
    return context / (context + dim + 1 + noise**2)


def optimal_loss(dim: int, context: int, noise: float) -> float:
    """The expected half squared query error of one GD step at eta*."""
    return (dim + noise**2) / 2 - dim * context / (2 * (context + dim + 1 + noise**2))
