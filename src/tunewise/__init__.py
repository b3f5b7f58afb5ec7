"""tunewise: self-hosted automatic model tuning.

    import tunewise as tw
    study = tw.create_study("demo", objective=tw.Objective("accuracy", "maximize"),
                            space={"lr": tw.Float(1e-4, 1e-1, scale="log")}, strategy="random")
    study.optimize(train, n_trials=50, max_parallel=2)
    study.best_trial.params

Importing this package is cheap: optional and heavy dependencies load where they are used.
"""

from tunewise.errors import (
    NoTrialCompleted,
    SpecError,
    StoreError,
    StudyAborted,
    StudyExists,
    StudyNotFound,
    TrialFailed,
    TrialPruned,
    TrialStopped,
    TunewiseError,
)
from tunewise.reporting import report
from tunewise.space import Categorical, Float, Int, Space
from tunewise.spec import StudySpec
from tunewise.study import Study, create_study, load_study
from tunewise.study_admin import copy_study, delete_study
from tunewise.trial import Constraint, FailureKind, Objective, StudyState, Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "Categorical",
    "Constraint",
    "FailureKind",
    "Float",
    "Int",
    "NoTrialCompleted",
    "Objective",
    "Space",
    "SpecError",
    "StoreError",
    "Study",
    "StudyAborted",
    "StudyExists",
    "StudyNotFound",
    "StudySpec",
    "StudyState",
    "Trial",
    "TrialFailed",
    "TrialPruned",
    "TrialState",
    "TrialStopped",
    "TunewiseError",
    "__version__",
    "copy_study",
    "create_study",
    "delete_study",
    "load_study",
    "report",
]
