"""Test-run configuration shared by every test module.

``SCIPY_ARRAY_API=1`` must be in the environment before scipy is first
imported, or scikit-learn refuses ``array_api_dispatch=True``. This file is
imported by pytest before any test module (and pytest itself imports no
scipy), so setting it here covers the whole run; ``setdefault`` keeps a value
the user exported. With the variable set scipy also validates numpy inputs
through its array-API layer; numpy code paths are otherwise unchanged.

The ``array_namespace`` fixture yields ``(xp, device, dtype)`` for the
array-API tests: array-api-strict on its two devices (``CPU_DEVICE`` and
``device1``, which refuses implicit conversion to numpy and so catches a
silent host round trip) in float64 and float32, and PyTorch on the CPU when
it is installed.
"""

from __future__ import annotations

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402


def _namespace_params():
    params = []
    for device in ("CPU_DEVICE", "device1"):
        for dtype in ("float64", "float32"):
            params.append(
                pytest.param(("array_api_strict", device, dtype),
                             id=f"strict-{device}-{dtype}")
            )
    for dtype in ("float64", "float32"):
        params.append(pytest.param(("torch", "cpu", dtype), id=f"torch-cpu-{dtype}"))
    return params


@pytest.fixture(params=_namespace_params())
def array_namespace(request):
    """``(xp, device, dtype)`` of an installed array-API namespace (else skip)."""
    name, device_name, dtype_name = request.param
    xp = pytest.importorskip(name)
    if name == "array_api_strict":
        device = xp.Device(device_name)
    else:
        from sklearn.utils._array_api import get_namespace

        device = device_name
        import sklearn

        with sklearn.config_context(array_api_dispatch=True):
            xp, _ = get_namespace(xp.zeros(1))
    return xp, device, getattr(xp, dtype_name)
