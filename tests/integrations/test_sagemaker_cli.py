"""``tunewise import-sagemaker`` and ``tunewise describe`` on real files: imported requests run
end to end with ``tunewise run``, and the stored studies describe in the documented shape."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import DATA, TRAIN_SCRIPT, request
from tests.integrations.shapes import errors, output_shape
from tunewise.cli.main import main

pytestmark = pytest.mark.timeout(60)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")
DESCRIBE = output_shape("DescribeHyperParameterTuningJob")


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tunewise ARGS`` as a user runs it, with this interpreter first on PATH as ``python``."""
    command = (
        [str(ENTRY_POINT)] if ENTRY_POINT.exists() else [sys.executable, "-m", "tunewise.cli.main"]
    )
    environ = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    result = subprocess.run(
        [*command, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def run_here(monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str) -> None:
    """``tunewise run ARGS`` in this process (the imports are paid once), in ``cwd``."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("TUNEWISE_STORAGE", raising=False)
    assert main(["run", *args]) == 0


def describe(capsys: pytest.CaptureFixture[str], study: str, url: str, *extra: str) -> Any:
    capsys.readouterr()
    assert main(["describe", study, "--storage", url, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def trial_arguments(folder: Path) -> list[dict[str, str]]:
    """What each trial's command received, as the training script printed it."""
    found = []
    for log in sorted(folder.glob("tunewise-runs/**/stdout.log")):
        line = next(x for x in log.read_text().splitlines() if x.startswith("ARGS "))
        found.append(json.loads(line.removeprefix("ARGS ")))
    return found


def test_a_random_request_imports_runs_and_describes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "train.py").write_text(TRAIN_SCRIPT)
    command = f"{shlex.quote(sys.executable)} train.py"
    source = str(DATA / "tensorflow-cifar10-random.json")
    target = str(tmp_path / "spec.yaml")
    assert main(["import-sagemaker", source, "-o", target, "--command", command]) == 0
    stderr = capsys.readouterr().err.splitlines()
    role = "TrainingJobDefinition.RoleArn (an IAM role; trials run with your own permissions)"
    assert f"not carried over: {role}" in stderr
    assert sum(line.startswith("not carried over: ") for line in stderr) == 13
    assert stderr[-1].startswith("wrote ") and "tunewise run" in stderr[-1]

    url = f"sqlite:///{tmp_path / 't.db'}"
    run_here(monkeypatch, tmp_path, "spec.yaml", "--max-trials", "4", "--storage", url)
    assert "best trial" in capsys.readouterr().out
    arguments = trial_arguments(tmp_path)
    assert len(arguments) == 4
    for args in arguments:
        assert args["--epochs"] == "5" and args["--batch_size"] == "128"
        assert args["--model_dir"] == "s3://example-ml-bucket/tf-cifar10/model"
        assert args["--activation"] in ("relu", "elu", "swish")
        assert 1e-4 <= float(args["--learning_rate"]) <= 0.1
        assert 16 <= int(args["--num_filters"]) <= 128

    doc = describe(capsys, "tf-cifar10-random-0703", url)
    assert errors(doc, DESCRIBE) == []
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 4
    assert doc["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    config = doc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random" and config["RandomSeed"] == 7
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "val_accuracy",
    }
    assert config["TuningJobCompletionCriteria"] == {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5}
    }
    best = doc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert best["MetricName"] == "val_accuracy" and 0 < best["Value"] < 1
    assert describe(capsys, "tf-cifar10-random-0703", url, "--format", "json") == doc
    arn = doc["HyperParameterTuningJobArn"]
    assert arn.startswith(
        "arn:aws:sagemaker:local:000000000000:hyper-parameter-tuning-job/tf-cifar10-random-0703-"
    )
    number = int(doc["BestTrainingJob"]["TrainingJobName"].rsplit("-", 1)[1])
    suffix = arn.rsplit("-", 1)[1]
    assert doc["BestTrainingJob"]["TrainingJobArn"] == (
        "arn:aws:sagemaker:local:000000000000:training-job/"
        f"tf-cifar10-random-0703-{number:05d}-{suffix}"
    )
    # the same study in another store is another study: its ARN differs, and stays its own
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run_here(monkeypatch, tmp_path, "spec.yaml", "--max-trials", "1", "--storage", other)
    again = describe(capsys, "tf-cifar10-random-0703", other)
    assert again["HyperParameterTuningJobArn"] != arn
    assert describe(capsys, "tf-cifar10-random-0703", url)["HyperParameterTuningJobArn"] == arn


def test_a_grid_request_runs_its_sdk_entry_point_without_a_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train_svm.py").write_text(TRAIN_SCRIPT)
    source = str(DATA / "sklearn-svm-grid.json")
    assert main(["import-sagemaker", source, "-o", str(tmp_path / "svm.yaml")]) == 0
    assert "note: trial.command runs `python train_svm.py" in capsys.readouterr().err
    spec = yaml.safe_load((tmp_path / "svm.yaml").read_text())
    assert spec["trial"]["command"][:2] == ["python", "train_svm.py"]

    url = f"sqlite:///{tmp_path / 'grid.db'}"
    run_cli(tmp_path, "run", "svm.yaml", "--storage", url)
    seen = {(a["--kernel"], a["--C"]) for a in trial_arguments(tmp_path)}
    assert seen == {("linear", "1"), ("linear", "10"), ("rbf", "1"), ("rbf", "10")}
    assert all(
        a["--gamma"] == "scale" and a["--random_state"] == "0" for a in trial_arguments(tmp_path)
    )

    doc = describe(capsys, "sklearn-svm-grid-0820", url)
    assert errors(doc, DESCRIBE) == []
    assert doc["HyperParameterTuningJobConfig"]["Strategy"] == "Grid"
    assert doc["HyperParameterTuningJobConfig"]["ParameterRanges"][
        "CategoricalParameterRanges"
    ] == [
        {"Name": "kernel", "Values": ["linear", "rbf"]},
        {"Name": "C", "Values": ["1", "10"]},
    ]
    assert doc["TrainingJobStatusCounters"]["Completed"] == 4
    assert doc["BestTrainingJob"]["TunedHyperParameters"] == {"kernel": "rbf", "C": "10"}
    assert doc["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] >= 0


def test_a_study_stopped_by_best_objective_not_improving_describes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = request("tensorflow-cifar10-random.json")
    config = data["HyperParameterTuningJobConfig"]
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 1}
    config["TuningJobCompletionCriteria"] = {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
    }
    (tmp_path / "job.json").write_text(json.dumps(data))
    (tmp_path / "flat.py").write_text('print("val_loss: 0.5 - val_accuracy: 0.5")\n')
    command = f"{shlex.quote(sys.executable)} flat.py"
    target = str(tmp_path / "flat.yaml")
    source = str(tmp_path / "job.json")
    assert main(["import-sagemaker", source, "-o", target, "--command", command]) == 0

    url = f"sqlite:///{tmp_path / 'flat.db'}"
    run_here(monkeypatch, tmp_path, "flat.yaml", "--storage", url)
    doc = describe(capsys, "tf-cifar10-random-0703", url)
    assert errors(doc, DESCRIBE) == []
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["TrainingJobStatusCounters"]["Completed"] == 4  # the first, then 3 not improving
    assert doc["TuningJobCompletionDetails"] == {"NumberOfTrainingJobsObjectiveNotImproving": 3}
    criteria = doc["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"]
    assert criteria == {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}


def test_a_refused_request_exits_2_with_one_sentence_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = request("xgboost-churn-bayesian.json")
    data["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
        "ScalingType"
    ] = "Exponential"
    (tmp_path / "job.json").write_text(json.dumps(data))
    target = tmp_path / "spec.yaml"
    code = main(
        [
            "import-sagemaker",
            str(tmp_path / "job.json"),
            "-o",
            str(target),
            "--command",
            "python t.py",
        ]
    )
    assert code == 2 and not target.exists()
    assert capsys.readouterr().err == (
        "tunewise: HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0]"
        ".ScalingType: must be one of Auto | Linear | Logarithmic | ReverseLogarithmic, "
        "got 'Exponential'\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["xgboost-churn-bayesian.json", "-o", "{tmp}/s.yaml"], "tunewise: --command: is required"),
        (
            ["xgboost-churn-bayesian.json", "-o", "{tmp}/s.txt", "--command", "x"],
            "tunewise: --output:",
        ),
        (
            ["xgboost-churn-bayesian.json", "-o", "{tmp}/no/s.yaml", "--command", "x"],
            "tunewise: --output: folder",
        ),
        (
            ["xgboost-churn-bayesian.json", "-o", "{tmp}/s.yaml", "--command", "'x"],
            "tunewise: --command: cannot be split",
        ),
        (["missing.json", "-o", "{tmp}/s.yaml", "--command", "x"], "missing.json: cannot be read"),
        (["bad.json", "-o", "{tmp}/s.yaml", "--command", "x"], "bad.json: is not valid JSON"),
    ],
)
def test_import_mistakes_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text('{"HyperParameterTuningJobName": ')
    where = {
        "xgboost-churn-bayesian.json": str(DATA / "xgboost-churn-bayesian.json"),
        "missing.json": str(tmp_path / "missing.json"),
        "bad.json": str(tmp_path / "bad.json"),
    }
    argv = [where.get(a, a.replace("{tmp}", str(tmp_path))) for a in args]
    assert main(["import-sagemaker", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_yaml_request_and_a_json_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(request("lightgbm-fraud-warmstart.json")))
    target = tmp_path / "spec.json"
    assert (
        main(
            [
                "import-sagemaker",
                str(tmp_path / "job.yaml"),
                "-o",
                str(target),
                "--command",
                "python lgbm.py",
            ]
        )
        == 0
    )
    spec = json.loads(target.read_text())
    assert spec["warm_start"] == {
        "parents": ["lgbm-fraud-0901", "lgbm-fraud-0908"],
        "type": "identical",
    }


def test_describe_of_an_unknown_study_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.store import open_store

    url = f"sqlite:///{tmp_path / 'x.db'}"
    open_store(url).close()  # a store that exists, without that study
    assert main(["describe", "nope", "--storage", url]) == 2
    assert "no study named 'nope'" in capsys.readouterr().err


def test_the_help_says_where_the_command_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import-sagemaker", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--NAME VALUE" in text and "sagemaker_program" in text and "needs --command" in text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", '{"HyperParameterTuningJobName": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("deep.yaml", "HyperParameterTuningJobName: " + "[" * 5000 + "]" * 5000 + "\n"),
        (
            "bomb.yaml",
            "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)
            ),
        ),
        ("loop.yaml", "Tags: &t [*t]\n"),
    ],
)
def test_a_deep_or_exploding_request_exits_2_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    source = tmp_path / name
    source.write_text(text)
    target = tmp_path / "spec.yaml"
    assert main(["import-sagemaker", str(source), "-o", str(target), "--command", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tunewise: ")
    assert "levels deep" in err or "aliases" in err or "contains itself" in err
    assert not target.exists()
