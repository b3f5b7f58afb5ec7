"""Example studies for tunewise; run them from the repository root.

- ``examples/mlp_digits.yaml``: scikit-learn's MLPClassifier on the digits data set, with a
  ``compare`` command that scores the best configuration against scikit-learn's defaults.
- ``examples/xgboost_breast_cancer.yaml``: XGBoost on the breast-cancer data set (needs the
  ``tunewise[xgboost]`` extra).
- ``examples/command/spec.yaml``: a plain training script tuned as a command, its metrics read
  from its output.
"""
