"""Shared helpers of the rotation tests (tests/test_rotations_*.py)."""

import itertools

import numpy as np
from scipy.optimize import linear_sum_assignment

from latentmodels import rotations as rot
from latentmodels.rotations import METHODS

ITERATIVE = tuple(m for m in METHODS if m != "promax")


def _align(X, ref):
    """Permute and flip the columns of X to best match ref (max abs error)."""
    k = X.shape[1]
    cost = np.empty((k, k))
    for i, j in itertools.product(range(k), range(k)):
        cost[i, j] = min(
            np.abs(X[:, i] - ref[:, j]).max(), np.abs(X[:, i] + ref[:, j]).max()
        )
    rows, cols = linear_sum_assignment(cost)
    out = np.empty_like(ref)
    for i, j in zip(rows, cols):
        s = (
            1.0
            if np.abs(X[:, i] - ref[:, j]).max() <= np.abs(X[:, i] + ref[:, j]).max()
            else -1.0
        )
        out[:, j] = s * X[:, i]
    return out


def _maxdiff(X, ref):
    return float(np.abs(_align(X, ref) - ref).max())


def _simple_structure(d=12, k=3, seed=0, noise=0.15):
    """Loadings with a clear simple structure, hidden by a random rotation."""
    rng = np.random.RandomState(seed)
    W = noise * rng.randn(d, k)
    for i in range(d):
        W[i, i % k] += 0.5 + 0.4 * rng.rand()
    return W @ rot._haar_orthogonal(k, rng)


def _random_unit_columns(k, rng):
    T = rng.randn(k, k)
    return T / np.linalg.norm(T, axis=0)


# Thurstone's box26, equamax (GPArotation tests/rotations.R, eps=1e-5): an
# orthogonal rotation of box26, so it is its own input.
BOX26_EQUAMAX = np.array(
    [
        [0.511813618717971597, 0.1252460667724786814, 0.835031881099661200],
        [0.211275278125612587, 0.9469860693462274215, 0.024701038786419674],
        [0.923671387190205140, 0.1861505968810791833, -0.278366886980007111],
        [0.414270797796799317, 0.7243752493532077397, 0.530526346393166759],
        [0.927099794400001564, 0.1710560637343615797, 0.314400690653154735],
        [0.685509679739711331, 0.6873945075387188908, -0.212674093365320949],
        [0.500975325417812756, 0.4985944480056956341, 0.693100497576226382],
        [0.350251174602310256, 0.8631423492204841619, 0.303299191676876356],
        [0.809196181501955492, 0.1468111894018074293, 0.540855816747015439],
        [1.051940508364259674, 0.2023337382785123650, 0.126016765617061266],
        [0.528246625368315792, 0.8145581663496035407, -0.154555803579673606],
        [0.791784749686200273, 0.5353191515116044741, -0.254010464723911089],
        [0.283760830721282831, -0.7132278971933163625, 0.633221728633476699],
        [-0.283760830721282831, 0.7132278971933163625, -0.633221728633476699],
        [-0.351981708826951678, 0.0145585781278812498, 0.920862598031950474],
        [0.351981708826951678, -0.0145585781278812498, -0.920862598031950474],
        [-0.641238077659381234, 0.7340358583767647715, 0.211813801195267382],
        [0.641238077659381234, -0.7340358583767647715, -0.211813801195267382],
        [0.370916272566192251, 0.7781992933002486179, 0.457012011497068604],
        [0.943267697340363864, 0.1458935486092693412, 0.269085717994103968],
        [0.683769139477491628, 0.6932804480935084168, -0.193612975261152009],
        [0.375506314902942506, 0.7683789003013250518, 0.444462454027040654],
        [0.921697465732450816, 0.1542330203892136042, 0.244709944799956780],
        [0.664806997738585315, 0.6918110118942031317, -0.165931249557543792],
        [0.748952844572093657, 0.5985308972371030656, 0.239842451746804020],
        [0.716556890444816297, 0.6343221919993241587, 0.139425892477791219],
    ]
)
