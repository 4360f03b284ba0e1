"""Parametric encoders trained to predict the optimal sparse codes.

Exact (non-parametric) inference solves a lasso for every example. A
parametric encoder replaces that optimisation by one fixed function
``f_θ(x)`` fitted, on training signals ``X`` and their optimal codes ``H*``,
to minimise the mean squared code error

.. math::

    L(θ) = \\frac{1}{2n} \\sum_i \\lVert f_θ(x_i) - h^*_i \\rVert_2^2 .

Two families are offered, both built on the soft-threshold
``s_τ(z) = sign(z) max(|z| − τ, 0)`` (``max(z − τ, 0)`` for non-negative
codes) with one learned threshold per component:

``'linear'``
    ``f(x) = s_τ(W x + b)``: the encoder of predictive sparse decomposition
    (Kavukcuoglu, Ranzato & LeCun 2008, "Fast inference in sparse coding
    algorithms with applications to object recognition", arXiv:1010.3467),
    with the soft-threshold in place of their scaled tanh so that it can
    output exact zeros.
``'lista'``
    Learned ISTA (Gregor & LeCun 2010, "Learning fast approximations of sparse
    coding", ICML): ``z_0 = s_τ(W_e x)``, ``z_{t+1} = s_τ(W_e x + S z_t)`` for
    ``T`` layers. It is initialised at ISTA itself (``W_e = D/L``,
    ``S = I − D Dᵀ/L``, ``τ = α/L`` with ``L = ‖D‖₂²``), so ``T`` layers start
    as ``T + 1`` ISTA steps from zero and training can only improve on them.

Both are fitted by L-BFGS (:func:`scipy.optimize.minimize`) on the analytic
gradient (back-propagation written out below), from a deterministic start,
so training is reproducible. The loss is piecewise quadratic in the
parameters (the threshold has kinks), which L-BFGS handles well in practice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ._formulas import soft_threshold_np

__all__ = ["ParametricEncoder", "fit_encoder"]


def _shrink(Z: np.ndarray, tau: np.ndarray, positive: bool):
    """Soft-threshold (:mod:`._formulas`) and its mask ``|z| > τ`` (``z > τ``)."""
    mask = (Z if positive else np.abs(Z)) > tau
    return soft_threshold_np(Z, tau, positive), mask


@dataclass
class ParametricEncoder:
    """A fitted encoder ``x ↦ h``; see the module docstring.

    Attributes
    ----------
    kind : {'linear', 'lista'}
    W : ndarray of shape (n_components, n_features)
        Input weights (``W`` for 'linear', ``W_e`` for 'lista').
    b : ndarray of shape (n_components,)
        Bias ('linear'; zeros for 'lista').
    S : ndarray of shape (n_components, n_components) or None
        Lateral weights of LISTA.
    tau : ndarray of shape (n_components,)
        Thresholds.
    n_layers : int
        LISTA layers ``T`` (0 for 'linear').
    positive : bool
        Non-negative codes.
    n_iter : int
        L-BFGS iterations used in training.
    loss : float
        Final training loss ``L(θ)``.
    """

    kind: str
    W: np.ndarray
    b: np.ndarray
    S: np.ndarray | None
    tau: np.ndarray
    n_layers: int
    positive: bool
    n_iter: int = 0
    loss: float = np.nan

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Codes predicted for the rows of ``X``."""
        return _forward(self._params(), X, self.kind, self.n_layers, self.positive)[0]

    def _params(self) -> tuple:
        return (self.W, self.b, self.S, self.tau)


def _forward(params, X, kind, n_layers, positive):
    """Return the codes and what back-propagation needs (pre-activations, codes)."""
    W, b, S, tau = params
    U = X @ W.T + b
    Z, mask = _shrink(U, tau, positive)
    pre, masks, codes = [U], [mask], [Z]
    if kind == "lista":
        for _ in range(n_layers):
            C = U + Z @ S.T
            Z, mask = _shrink(C, tau, positive)
            pre.append(C)
            masks.append(mask)
            codes.append(Z)
    return Z, pre, masks, codes


def _loss_and_grad(params, X, H, kind, n_layers, positive):
    """``L(θ)`` and its gradient by back-propagation through the layers.

    With ``z_t = s_τ(c_t)``, ``c_0 = u = W x + b`` and ``c_t = u + S z_{t−1}``:
    ``∂z/∂c = 1{active}``, ``∂z/∂τ = −sign(c)·1{active}`` (``−1{active}`` when
    positive), ``∂c_t/∂S = z_{t−1}``, ``∂c_t/∂z_{t−1} = S``.
    """
    W, b, S, tau = params
    n = X.shape[0]
    Z, pre, masks, codes = _forward(params, X, kind, n_layers, positive)
    E = Z - H
    loss = 0.5 * np.einsum("ij,ij->", E, E) / n
    gZ = E / n
    gU = np.zeros_like(pre[0])
    gS = np.zeros_like(S) if S is not None else None
    gtau = np.zeros_like(tau)
    for t in range(len(pre) - 1, -1, -1):
        gC = gZ * masks[t]
        dsign = gC if positive else gC * np.sign(pre[t])
        gtau -= dsign.sum(axis=0)
        gU += gC
        if t > 0:
            gS += gC.T @ codes[t - 1]
            gZ = gC @ S
    gW = gU.T @ X
    gb = gU.sum(axis=0) if kind == "linear" else np.zeros_like(b)
    return loss, (gW, gb, gS, gtau)


def _pack(params) -> np.ndarray:
    return np.concatenate([p.ravel() for p in params if p is not None])


def _unpack(theta, shapes):
    out, start = [], 0
    for shape in shapes:
        if shape is None:
            out.append(None)
            continue
        size = int(np.prod(shape))
        out.append(theta[start : start + size].reshape(shape))
        start += size
    return tuple(out)


def ista_parameters(D: np.ndarray, alpha: float, kind: str) -> tuple:
    """The deterministic start: one ISTA step (``'linear'``) or ISTA (``'lista'``)."""
    k = D.shape[0]
    L = max(float(np.linalg.norm(D, 2)) ** 2, np.finfo(np.float64).tiny)
    W = D / L
    b = np.zeros(k)
    S = np.eye(k) - (D @ D.T) / L if kind == "lista" else None
    tau = np.full(k, alpha / L)
    return W, b, S, tau


def fit_encoder(
    X: np.ndarray,
    H: np.ndarray,
    D: np.ndarray,
    alpha: float,
    *,
    kind: str = "linear",
    n_layers: int = 3,
    positive: bool = False,
    max_iter: int = 200,
) -> ParametricEncoder:
    """Fit a parametric encoder to predict the codes ``H`` of the signals ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training signals.
    H : ndarray of shape (n_samples, n_components)
        Their optimal codes (the targets).
    D : ndarray of shape (n_components, n_features)
        Dictionary, used for the ISTA start.
    alpha : float
        Lasso penalty, used for the ISTA start.
    kind : {'linear', 'lista'}, default='linear'
        Encoder family (module docstring).
    n_layers : int, default=3
        Number ``T`` of LISTA layers after the first threshold.
    positive : bool, default=False
        Non-negative codes (one-sided threshold).
    max_iter : int, default=200
        L-BFGS iterations.

    Returns
    -------
    encoder : ParametricEncoder
    """
    start = ista_parameters(D, alpha, kind)
    shapes = [None if p is None else p.shape for p in start]
    layers = n_layers if kind == "lista" else 0

    def fun(theta):
        params = _unpack(theta, shapes)
        loss, grads = _loss_and_grad(params, X, H, kind, layers, positive)
        if kind == "lista":
            grads = (grads[0], np.zeros_like(grads[1]), grads[2], grads[3])
        return loss, _pack(grads)

    # Thresholds stay non-negative (a negative one would push codes outwards).
    k = D.shape[0]
    bounds = [(None, None)] * (_pack(start).size - k) + [(0.0, None)] * k
    res = minimize(
        fun,
        _pack(start),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-12},
    )
    W, b, S, tau = _unpack(res.x, shapes)
    return ParametricEncoder(
        kind=kind,
        W=W.copy(),
        b=b.copy(),
        S=None if S is None else S.copy(),
        tau=tau.copy(),
        n_layers=layers,
        positive=positive,
        n_iter=int(res.nit),
        loss=float(res.fun),
    )
