"""The command line: errors name the valid choices; train and compare write their reports."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import pinnsight as ps
from pinnsight.cli import main
from pinnsight.report.plots import predict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def example_process(request, tmp_path_factory):
    """examples/poisson2d.py in a process of its own, started with this module's first test
    (when `test_example_file_runs` is selected) so that it trains beside the in-process tests
    below; `example` waits for it. Output to files: no pipe to fill up."""
    if not any(
        "example" in item.fixturenames for item in request.session.items if item.module is request.module
    ):
        yield None
        return
    logs = tmp_path_factory.mktemp("example")
    with (logs / "stdout").open("w") as out, (logs / "stderr").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "poisson2d.py")], stdout=out, stderr=err
        )
    yield proc, logs
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture
def example(example_process) -> subprocess.CompletedProcess:
    """The example's process, finished."""
    proc, logs = example_process
    returncode = proc.wait(timeout=300)
    return subprocess.CompletedProcess(
        proc.args, returncode, (logs / "stdout").read_text(), (logs / "stderr").read_text()
    )


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "helmholtz" in out and "M4" in out and "a2=4.0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nope"], "unknown problem 'nope'; choose one of: .*helmholtz"),
        (
            ["train", "helmholtz", "--model", "M9"],
            "unknown recipe 'M9' for problem 'helmholtz'; choose one of: M1, M2",
        ),
        (["train", "helmholtz", "--set", "foo=1"], "unknown config key 'foo'.*a2"),
        (["train", "helmholtz", "--steps", "0"], "`run.steps` must be >= 1"),
        (["train", "helmholtz", "--steps", "-3"], "`run.steps` must be >= 1"),
        (["train", "helmholtz", "--set", "a2"], "expected key=value"),
        (["train", "helmholtz", "--set", "a2=abc"], "parameter `a2` of problem 'helmholtz' must be a number"),
        (["train", "cavity", "--set", "grid=1.5"], "parameter `grid` of problem 'cavity' must be an integer"),
        (["compare", "helmholtz", "--models", "M1,M9"], "unknown recipe 'M9'"),
    ],
)
def test_bad_input_gives_one_clear_error(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pinnsight: error:")
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "r").exists()


def test_train_then_refuse_then_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "helmholtz",
        "--model",
        "M2",
        "--steps",
        "40",
        "--quiet",
        "--out",
        str(out),
        "--set",
        "layers=(2,8,8,1)",
        "chunk_size=20",
        "a2=2",
    ]
    assert main(args) == 0
    assert "relative L2" in capsys.readouterr().out
    for f in ("report.html", "fields.png", "losses.png", "lambdas.png", "summary.json"):
        assert (out / f).exists(), f
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["problem"]["params"] == {"a2": 2} and cfg["recipe"] == "M2"
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_toml_config(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("steps = 20\nchunk_size = 10\nlayers = [2, 6, 1]\n[params]\na2 = 1.0\n")
    out = tmp_path / "run"
    assert main(["train", "helmholtz", "--config", str(toml), "--quiet", "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["run"]["steps"] == 20 and cfg["problem"]["params"] == {"a2": 1.0}


def test_compare_writes_table_figures_and_resumes(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = [
        "compare",
        "helmholtz",
        "--steps",
        "40",
        "--out",
        str(out),
        "--models",
        "M1,M2",
        "--jobs",
        "1",
        "--set",
        "layers=(2,8,8,1)",
        "chunk_size=20",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "M1" in text and "M2" in text and "median rel. L2" in text
    for f in (
        "report.html",
        "report.md",
        "fields.png",
        "losses.png",
        "lambdas.png",
        "errors.png",
        "histograms_M1_M2.png",
        "summary.json",
    ):
        assert (out / f).exists(), f
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["M2"]["finished"] == 1
    mtime = (out / "M1" / "seed0" / "model.eqx").stat().st_mtime_ns
    assert main(args) == 0  # finished runs are reused, not retrained
    assert (out / "M1" / "seed0" / "model.eqx").stat().st_mtime_ns == mtime


def test_diagnose_renders_a_run(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "helmholtz",
                "--steps",
                "20",
                "--quiet",
                "--out",
                str(out),
                "--set",
                "layers=(2,6,1)",
                "chunk_size=10",
                "hist_steps=(0,20)",
            ]
        )
        == 0
    )
    (out / "report.html").unlink()
    assert main(["diagnose", str(out)]) == 0
    assert (out / "report.html").exists() and (out / "histograms_step20.png").exists()
    assert main(["diagnose", str(tmp_path / "missing")]) == 2


def test_a_float64_run_is_reported_in_float64(tmp_path):
    """Reports evaluate a float64 run's network in float64: JAX's "float64 truncated to
    float32" warning, raised as an error here, would end the command with exit code 2."""
    args = ["train", "poisson1d", "--steps", "10", "--quiet", "--x64", "--out", str(tmp_path / "run")]
    args += ["--set", "layers=(1,6,1)", "chunk_size=10"]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Explicitly requested dtype float64", category=UserWarning)
        assert main(args) == 0
    assert (tmp_path / "run" / "fields.png").exists()
    # the same for every figure of fields (compare, reproduce): `predict` follows the network
    _, problem, net = ps.load_run(tmp_path / "run")
    assert predict(problem, net)[1].dtype == np.float64


def test_example_file_runs(example):
    """examples/poisson2d.py, the README's own-PDE example, trains to < 1e-1 error."""
    proc = example
    assert proc.returncode == 0, proc.stderr[-2000:]
    err = float(proc.stdout.strip().split()[-1])
    assert err < 1e-1


def test_run_many_side_by_side_processes(tmp_path):
    """Two worker processes (spawned, single-threaded XLA) train two runs and report them."""
    from pinnsight.experiments.config import RunConfig
    from pinnsight.experiments.parallel import Job, run_many

    base = RunConfig.create(steps=20, chunk_size=10, layers=(2, 6, 1))
    jobs = [Job(base.override(seed=s), tmp_path / f"s{s}") for s in (0, 1)]
    summaries = run_many(jobs, workers=2)
    assert [s["status"] for s in summaries] == ["finished", "finished"]
    assert summaries[0]["final_error"] != summaries[1]["final_error"]
    assert (tmp_path / "s1" / "model.eqx").exists()
