"""The main job: ``python -m latentmodels compare`` fits the models on a data set.

First version: fits the Gaussian models on scikit-learn's bundled digits and
prints held-out log-likelihood and fit time.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _compare(args) -> int:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import PCA, ProbabilisticPCA

    X = load_digits().data
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.seed)
    models = {
        "pca": PCA(args.n_components),
        "ppca": ProbabilisticPCA(args.n_components),
    }
    print(f"{'model':<8} {'fit s':>8} {'held-out loglik':>16}")
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(X_train)
        elapsed = time.perf_counter() - t0
        print(f"{name:<8} {elapsed:8.3f} {model.score(X_test):16.3f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latentmodels")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="compare the models on a data set")
    p.add_argument("--n-components", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    np.seterr(all="ignore")
    return _compare(args)


if __name__ == "__main__":
    sys.exit(main())
