"""``from tunewise.sklearn import TunewiseSearchCV``: the scikit-learn search estimator.

Importing this module needs scikit-learn (``pip install 'tunewise[sklearn]'``); importing
``tunewise`` alone never loads it.
"""

from __future__ import annotations

try:
    from tunewise.integrations.sklearn import TunewiseSearchCV
except ModuleNotFoundError as error:  # the one sentence a user needs
    if error.name is None or not error.name.startswith(("sklearn", "scipy", "joblib")):
        raise
    raise ImportError(
        "tunewise.sklearn needs scikit-learn: pip install 'tunewise[sklearn]'"
    ) from error

__all__ = ["TunewiseSearchCV"]
