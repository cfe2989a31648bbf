"""Mixture models for `hs cluster --method gmm` and `--method error-gmm`.

`gmm` is scikit-learn's GaussianMixture (the GEORGE family of methods). `error-gmm` is an
error-aware mixture in the spirit of Domino (Eyuboglu et al., ICLR 2022): within one
superclass every case has an embedding z and an error indicator e, and each component s has a
diagonal Gaussian for z and its own error rate pi_s. EM maximises

    sum_i log sum_s w_s N(z_i | mu_s, diag(var_s)) [pi_s^e_i (1 - pi_s)^(1 - e_i)]^gamma

where gamma (`--error-weight`) sets how strongly components are pulled towards cases that
share an error status. (Domino models the label and the prediction; inside one superclass the
label is constant and the prediction reduces to the error indicator.) Because the components
are formed with the errors, their error rates cannot be tested on the same cases: cases that
were held out of the fit are assigned with the embedding part alone (w_s N(z | s)), and only
they are used for the statistics (see docs/cluster.md, "Honest statistics").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

_REG = 1e-6  # added to every variance, as scikit-learn's reg_covar
_TOL = 1e-3  # stop when the mean log-likelihood per case changes less than this
_MAX_ITER = 200


def fit_gmm(z: np.ndarray, k: int, seed: int, n_init: int, covariance: str) -> Any:  # sklearn is untyped
    """scikit-learn GaussianMixture, the best of `n_init` restarts by likelihood."""
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        n_components=k, covariance_type=covariance, n_init=n_init, random_state=seed, reg_covar=_REG
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is visible in the results, not a crash
        return model.fit(z)


@dataclass(frozen=True)
class ErrorMixture:
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, p)
    variances: np.ndarray  # (k, p)
    error_rates: np.ndarray  # (k,)
    error_weight: float
    n_iter: int

    def embedding_log_density(self, z: np.ndarray) -> np.ndarray:
        """log w_s + log N(z | mu_s, diag(var_s)), shape (n, k)."""
        z = np.asarray(z, dtype=np.float64)
        precision = 1.0 / self.variances
        quad = (z**2) @ precision.T - 2.0 * z @ (self.means * precision).T + ((self.means**2) * precision).sum(axis=1)
        log_det = np.log(self.variances).sum(axis=1)
        density: np.ndarray = np.log(self.weights) - 0.5 * (quad + log_det + z.shape[1] * np.log(2 * np.pi))
        return density

    def error_log_likelihood(self, errors: np.ndarray) -> np.ndarray:
        e = np.asarray(errors, dtype=np.float64)[:, None]
        likelihood: np.ndarray = self.error_weight * (
            e * np.log(self.error_rates) + (1 - e) * np.log1p(-self.error_rates)
        )
        return likelihood

    def assign(self, z: np.ndarray, errors: np.ndarray | None = None) -> np.ndarray:
        """Most probable component: with the errors for fitted cases, without for held-out ones."""
        log_p = self.embedding_log_density(z)
        if errors is not None:
            log_p = log_p + self.error_log_likelihood(errors)
        return np.asarray(np.argmax(log_p, axis=1), dtype=np.int64)


def fit_error_mixture(
    z: np.ndarray, errors: np.ndarray, start: np.ndarray, k: int, error_weight: float
) -> ErrorMixture:
    """EM for the error-aware mixture, started from the hard partition `start` (e.g. k-means)."""
    from scipy.special import logsumexp

    z = np.asarray(z, dtype=np.float64)
    resp = np.zeros((z.shape[0], k))
    resp[np.arange(z.shape[0]), start] = 1.0
    previous = -np.inf
    model = None
    for iteration in range(1, _MAX_ITER + 1):
        model = _m_step(z, errors, resp, error_weight, iteration)
        log_joint = model.embedding_log_density(z) + model.error_log_likelihood(errors)
        total = logsumexp(log_joint, axis=1)
        resp = np.exp(log_joint - total[:, None])
        mean_ll = float(total.mean())
        if abs(mean_ll - previous) < _TOL:
            break
        previous = mean_ll
    assert model is not None  # _MAX_ITER >= 1
    return model


def _m_step(z: np.ndarray, errors: np.ndarray, resp: np.ndarray, error_weight: float, iteration: int) -> ErrorMixture:
    counts = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = (resp.T @ z) / counts[:, None]
    variances = (resp.T @ (z**2)) / counts[:, None] - means**2 + _REG
    variances = np.maximum(variances, _REG)
    # A half-case prior on each component's error rate keeps log(pi) finite.
    rates = (resp.T @ np.asarray(errors, dtype=np.float64) + 0.5) / (counts + 1.0)
    return ErrorMixture(counts / counts.sum(), means, variances, rates, error_weight, iteration)
