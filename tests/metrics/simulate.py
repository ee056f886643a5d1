"""Seeded simulations of the BG/NBD and Gamma-Gamma generative processes."""

from __future__ import annotations

import numpy as np


def simulate_bgnbd(
    *, r: float, alpha: float, a: float, b: float, customers: int, seed: int, max_age: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequency, recency and age of customers drawn from BG/NBD with these parameters.

    Each customer buys at a Poisson rate drawn from Gamma(r, 1/alpha) and, after every
    purchase, drops out with a probability drawn from Beta(a, b); observed for an age drawn
    uniformly from [max_age / 2, max_age] since their first purchase.
    """
    rng = np.random.default_rng(seed)
    rates = rng.gamma(r, 1 / alpha, customers)
    dropouts = rng.beta(a, b, customers)
    ages = rng.uniform(max_age / 2, max_age, customers)
    frequency, recency = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > ages[i]:
                break
            frequency[i] += 1
            recency[i] = t
            if rng.random() < dropouts[i]:
                break
    return frequency, recency, ages


def simulate_gamma_gamma(
    frequency: np.ndarray, *, p: float, q: float, gamma: float, seed: int
) -> np.ndarray:
    """Mean transaction value of x transactions: z ~ Gamma(p, nu), nu ~ Gamma(q, gamma)."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / gamma, len(frequency))
    means = np.zeros(len(frequency))
    for i, x in enumerate(frequency.astype(int)):
        if x > 0:
            means[i] = rng.gamma(p, 1 / nu[i], x).mean()
    return means
