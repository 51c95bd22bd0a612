"""The PINN doctor: JSON schema, a healthy problem, the script loader, thresholds and cures."""

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from pinnsight.cli import main
from pinnsight.diagnostics import PATHOLOGIES, SEVERITIES, THRESHOLDS, Diagnosis, Finding
from pinnsight.experiments.doctor import is_script, load_problem

ROOT = Path(__file__).resolve().parents[1]


def _strict_json(text: str):
    """Parse JSON refusing NaN/Infinity (the doctor writes null for them)."""

    def bad(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def test_cli_json_schema_report_and_a_healthy_problem(tmp_path, capsys):
    """`pinnsight doctor poisson1d --json` with C = 1 (a smooth solution) and a small net: the
    JSON schema, the report page, and no severe finding on a problem that trains well."""
    out = tmp_path / "doc"
    argv = ["doctor", "poisson1d", "--steps", "1000", "--json", "--out", str(out), "--set", "C=1"]
    argv += ["net.layers=(1,16,16,1)", "sampling.batch_size=32"]
    assert main(argv) == 0
    data = _strict_json(capsys.readouterr().out)
    assert data["problem"] == "poisson1d" and data["steps"] == 1000
    for key in (
        "findings",
        "imbalance",
        "stiffness",
        "ntk",
        "concentration",
        "cure",
        "summary",
        "thresholds",
    ):
        assert key in data, key
    assert [f["pathology"] for f in data["findings"]] == list(PATHOLOGIES)
    for f in data["findings"]:
        assert set(f) >= {"pathology", "severity", "evidence", "cure"}
        assert f["severity"] in SEVERITIES
        assert set(f["cure"]) == {"advice", "set"}
        assert f["evidence"]["figure"].endswith(".png")
    assert set(data["ntk"]["terms"]) == {"residual", "bc"} and len(data["ntk"]["steps"]) == 3
    assert data["ntk"]["terms"]["bc"]["size"] == 64  # two conditions of 32 points, one group
    assert data["stiffness"]["steps"][0] == 0 and data["stiffness"]["ratio"] > 0
    assert "bc" in data["imbalance"]["groups"]
    # healthy: trains well, nothing severe
    assert data["summary"]["final_error"] < 1e-2
    assert all(f["severity"] != "severe" for f in data["findings"]), data["findings"]
    sev = {f["pathology"]: f["severity"] for f in data["findings"]}
    assert sev["gradient_imbalance"] == sev["stiffness"] == "none"
    assert data["timings"]["total_s"] >= data["timings"]["probe_train_s"] > 0
    # the report page: the findings first, every figure the findings name exists
    page = (out / "report.html").read_text()
    assert page.index("Findings") < page.index("gradient_imbalance (")
    for f in data["findings"]:
        assert (out / f["evidence"]["figure"]).exists()


def test_cli_hands_a_scripts_problem_to_the_doctor(monkeypatch, capsys):
    """`pinnsight doctor examples/poisson2d.py`: the script's Problem, the default probe length."""
    import pinnsight.experiments.doctor as doc

    seen = {}

    def fake_run_doctor(config, problem, **kw):
        seen.update(config=config, problem=problem, **kw)
        return {"json": {"problem": problem.name}}

    monkeypatch.setattr(doc, "run_doctor", fake_run_doctor)
    argv = ["doctor", str(ROOT / "examples" / "poisson2d.py"), "--json", "--set", "net.layers=(2,8,1)"]
    assert main(argv) == 0
    assert _strict_json(capsys.readouterr().out) == {"problem": "poisson2d"}
    assert seen["problem"].name == "poisson2d" and seen["config"].run.steps == doc.default_steps() == 5000
    assert seen["config"].net.layers == (2, 8, 1) and seen["cure"] is False


def _diagnosis(**severities) -> Diagnosis:
    cures = {
        "divergence": {"optim.learning_rate": 1e-4},
        "gradient_imbalance": {"weighting.kind": "annealing"},
        "stiffness": {"net.kind": "modified_mlp"},
        "spectral_bias": {"weighting.kind": "ntk"},
        "error_concentration": {"sampling.kind": "rad"},
    }
    findings = [
        Finding(p, severities.get(p, "none"), {}, {"advice": p, "set": cures[p]}) for p in PATHOLOGIES
    ]
    return Diagnosis(
        "x", 10, findings, {}, {}, {}, {}, {}, {"probe_train_s": 0.0, "diagnostics_s": 0.0, "total_s": 0.0}
    )


def test_the_cure_merges_severe_before_mild_in_order_of_importance():
    assert _diagnosis().cure() == {}
    assert _diagnosis().worst == "none"
    d = _diagnosis(gradient_imbalance="mild", stiffness="severe", spectral_bias="mild")
    # severe first; then mild in the order of PATHOLOGIES; a key already set is kept
    assert d.cure() == {"net.kind": "modified_mlp", "weighting.kind": "annealing"}
    d = _diagnosis(gradient_imbalance="mild", spectral_bias="severe")
    assert d.cure() == {"weighting.kind": "ntk"}
    assert d.worst == "severe" and d.severity("spectral_bias") == "severe"


def test_thresholds_are_stated_in_the_docstring():
    import pinnsight.diagnostics  # noqa: F401

    doc = sys.modules["pinnsight.diagnostics.doctor"].__doc__
    for name in ("gradient_imbalance", "stiffness", "error_concentration"):
        for level in ("mild", "severe"):
            value = THRESHOLDS[name][level]
            assert re.search(rf"{level} if\s[^.]*?≥ {value:g}\b", doc), (name, level, value)
    assert re.search(r"mild if ≥ 100, severe if ≥ 1e4", doc)
    assert (THRESHOLDS["spectral_bias"]["mild"], THRESHOLDS["spectral_bias"]["severe"]) == (100, 1e4)


SCRIPT = """
import pinnsight as ps
import jax.numpy as jnp

box = ps.Box((0.0,), (1.0,))
first = ps.Problem(
    name="first", domain=box, residual=lambda u, x: ps.laplacian(u)(x),
    conditions={"b": ps.Condition(box.face(0, "lo"), lambda u, x: u(x))}, exact=lambda x: 0.0 * x,
)
{extra}
if __name__ == "__main__":
    raise SystemExit("the doctor must not run the script's main block")
"""


def test_script_loader(tmp_path):
    one = tmp_path / "one.py"
    one.write_text(textwrap.dedent(SCRIPT.replace("{extra}", "")))
    assert is_script(str(one)) and is_script(f"{one}:first") and not is_script("helmholtz")
    assert load_problem(str(one)).name == "first"
    two = tmp_path / "two.py"
    two.write_text(
        textwrap.dedent(
            SCRIPT.replace(
                "{extra}", "import dataclasses\nsecond = dataclasses.replace(first, name='second')"
            )
        )
    )
    with pytest.raises(ValueError, match="2 Problem objects.*first, second.*:NAME"):
        load_problem(str(two))
    assert load_problem(f"{two}:second").name == "second"
    with pytest.raises(ValueError, match="defines no `third`"):
        load_problem(f"{two}:third")
    with pytest.raises(ValueError, match="no such script"):
        load_problem(str(tmp_path / "missing.py"))
    # the README's example: found without training (its fit is under __main__)
    assert load_problem(str(ROOT / "examples" / "poisson2d.py")).name == "poisson2d"


def test_cli_text_output_with_a_cure(monkeypatch, capsys):
    """The text mode prints the findings, the proposed cure and the errors before and after."""
    import pinnsight.experiments.doctor as doc

    d = _diagnosis(stiffness="severe")
    d.summary = {"final_error": 0.4, "status": "finished"}
    cure = {"set": {"net.kind": "modified_mlp"}, "recipe": "net.kind=modified_mlp", "steps": 10}
    cure |= {"error_before": 0.4, "error_after": None, "improvement": None}
    res = {"diagnosis": d, "cure": cure, "cure_keys": d.cure(), "report": "r.html"}
    monkeypatch.setattr(doc, "run_doctor", lambda *a, **k: res)
    assert main(["doctor", "helmholtz", "--cure"]) == 0
    out = capsys.readouterr().out
    assert "stiffness            severe" in out and "proposed cure: net.kind=modified_mlp" in out
    assert "relative L2 4.000e-01 -> n/a (n/a x lower)".replace(" x", "x") in out


def test_the_probe_of_a_ladder_is_its_last_stage_with_that_stages_rate_and_batch():
    """Under a ``run.curriculum`` ladder the doctor probes the target's stage as it trains:
    cavity ``best`` at Re = 1000 starts that stage at 2e-4 with 512 residual points (not
    ``optim.learning_rate`` = 1e-3 and 128); without a ladder the config is left alone."""
    import pinnsight as ps
    from pinnsight.experiments.doctor import probe_config

    cfg = ps.RunConfig.create(problem="cavity", recipe="best").with_assignments(["Re=1000"])
    problem = ps.get_problem("cavity", Re=1000.0)
    probe = probe_config(cfg, problem)
    assert cfg.options("optim")["learning_rate"] == 1e-3
    assert probe.options("optim")["learning_rate"] == 2e-4
    assert probe.sampling.batch_size["residual"] == 512 and probe.problem.params["Re"] == 1000.0
    plain = ps.RunConfig.create(problem="cavity", recipe="M4")
    assert probe_config(plain, problem) is plain


def test_a_rate_cure_under_a_ladder_goes_into_the_ladders_rate_of_the_last_stage():
    """``optim.learning_rate`` would not reach a stage whose ladder sets its rate: the cure
    names ``run.curriculum`` with that stage's rate replaced, and applies as a config key."""
    import dataclasses

    import pinnsight as ps
    from pinnsight.experiments.curriculum import stages_of
    from pinnsight.experiments.doctor import cure_keys

    cfg = ps.RunConfig.create(problem="cavity", recipe="best").with_assignments(["Re=400"])
    d = dataclasses.replace(_diagnosis(divergence="severe", stiffness="mild"), problem="cavity")
    assert d.cure() == {"optim.learning_rate": 1e-4, "net.kind": "modified_mlp"}
    keys = cure_keys(cfg, d)
    assert "optim.learning_rate" not in keys and keys["net.kind"] == "modified_mlp"
    assert keys["run.curriculum"]["learning_rate"] == (1e-3, 1e-4, 2e-4)  # Re = 400's entry
    cured = cfg.override(**keys)
    assert [s.learning_rate for s in stages_of(cured)] == [1e-3, 1e-4]
    # without a ladder rate (or for a script's problem) the keys are the diagnosis's own
    assert cure_keys(ps.RunConfig.create(problem="cavity", recipe="M4"), d) == d.cure()
    assert cure_keys(cfg, dataclasses.replace(d, problem="poisson2d")) == d.cure()


def test_a_balancer_cure_under_a_ladder_goes_into_the_ladders_weighting_of_the_last_stage():
    """``weighting.kind`` would not reach a last stage whose ladder gives it its own balancer:
    the cure replaces that stage's entry instead (and the doctor probes that stage's balancer)."""
    import dataclasses

    import pinnsight as ps
    from pinnsight.experiments.doctor import cure_keys, probe_config

    ladder = {
        "C": (1.0, 2.0),
        "steps": (20, 20),
        "weighting": (None, {"kind": "fixed", "weights": {"bc": 10.0}}),
    }
    cfg = ps.RunConfig.create(problem="poisson1d", C=2.0, **{"run.curriculum": ladder})
    problem = ps.get_problem("poisson1d", C=2.0)
    assert probe_config(cfg, problem).weighting.options == {"weights": {"bc": 10.0}}
    d = dataclasses.replace(_diagnosis(gradient_imbalance="severe"), problem="poisson1d")
    keys = cure_keys(cfg, d)
    assert "weighting.kind" not in keys
    assert keys["run.curriculum"]["weighting"] == (None, {"kind": "annealing"})
    assert probe_config(cfg.override(**keys), problem).weighting.kind == "annealing"
    # a ladder without a stage balancer: the key is the diagnosis's own
    plain = ps.RunConfig.create(
        problem="poisson1d", C=2.0, **{"run.curriculum": {"C": (1.0,), "steps": (20,)}}
    )
    assert cure_keys(plain, d) == d.cure()


def test_each_findings_cure_under_a_ladder_names_the_ladder_in_table_and_json(monkeypatch):
    """Not only the merged cure: the rate finding's own ``set`` (the findings' table, the
    ``--json`` findings and the cure run's diagnosis after) names ``run.curriculum``, since
    ``optim.learning_rate`` would not reach the ladder's stage (`doctor` stubbed)."""
    import dataclasses

    import pinnsight as ps
    import pinnsight.experiments.doctor as doc

    stub = dataclasses.replace(_diagnosis(divergence="severe"), problem="cavity")
    monkeypatch.setattr(doc, "diagnose_config", lambda *a, **k: stub)
    cfg = ps.RunConfig.create(problem="cavity", recipe="best").with_assignments(["Re=400"])
    res = doc.run_doctor(cfg, cure=True, progress=False)
    ladder = {**cfg.run.curriculum, "learning_rate": (1e-3, 1e-4, 2e-4)}
    for d in (res["diagnosis"], res["after"]):
        assert d.finding("divergence").cure["set"] == {"run.curriculum": ladder}
        assert d.finding("divergence").cure["advice"] == "divergence"
    found = {f["pathology"]: f for f in res["json"]["findings"]}
    assert "optim.learning_rate" not in found["divergence"]["cure"]["set"]
    assert found["divergence"]["cure"]["set"]["run.curriculum"]["learning_rate"] == [1e-3, 1e-4, 2e-4]
    after = {f["pathology"]: f for f in res["json"]["cure_run"]["diagnosis_after"]["findings"]}
    assert "run.curriculum" in after["divergence"]["cure"]["set"]
    assert res["cure_keys"] == {"run.curriculum": ladder} == res["diagnosis"].cure()
    assert stub.finding("divergence").cure["set"] == {"optim.learning_rate": 1e-4}  # not mutated
    from pinnsight.report.doctor_report import _findings_table

    assert '"run.curriculum={' in _findings_table(res["diagnosis"])  # one shell word, as the cure line


def test_the_probe_trains_with_the_last_stages_rate_and_batch(monkeypatch):
    """`diagnose_config` hands `doctor` the last stage's schedule and batch (stubbed: no training)."""
    import pinnsight as ps
    import pinnsight.experiments.doctor as doc

    seen = {}
    monkeypatch.setattr(doc, "doctor", lambda *a, **k: seen.update(k))
    cfg = ps.RunConfig.create(problem="cavity", recipe="best").with_assignments(["Re=1000", "run.steps=10"])
    doc.diagnose_config(cfg, progress=False)
    assert seen["learning_rate"](2000) == pytest.approx(2e-4) and seen["steps"] == 10  # after the warm-up
    assert seen["batch_size"]["residual"] == 512 and seen["batch_size"]["lid"] == 128
    assert seen["setup"]["optim.learning_rate"] == 2e-4


def test_a_ladder_cure_is_printed_as_one_shell_word_that_reads_back():
    """The proposed cure's `run.curriculum` table has spaces and quotes: quoted for the shell,
    it reads back through ``--set`` into the same ladder."""
    import shlex

    import pinnsight as ps
    from pinnsight.experiments.doctor import describe_keys

    spec = {"Re": (100.0, 400.0), "steps": (40000, 40000), "learning_rate": (1e-3, 3e-5)}
    line = describe_keys({"net.kind": "pirate", "run.curriculum": spec})
    assert line.startswith('net.kind=pirate "run.curriculum={')  # double quotes: the literal's ' stay
    words = shlex.split(line)
    assert words[0] == "net.kind=pirate" and len(words) == 2
    assert shlex.split(describe_keys({"run.note": 'a "b" $c'})) == ['run.note=a "b" $c']
    cfg = ps.RunConfig.create(problem="cavity", recipe="best").with_assignments(words)
    assert cfg.run.curriculum["learning_rate"] == (1e-3, 3e-5) and cfg.net.kind == "pirate"


def test_a_cure_the_set_up_already_has_is_not_proposed_again():
    """Each cure is the next rung its set-up lacks: with grad-norm weights on, the imbalance
    cure does not name grad_norm again; a PirateNet is not swapped for the modified MLP it
    extends (the stiffness cure goes on to SOAP, then to the rate); past the last rung the
    finding keeps its severity and sets nothing."""
    import importlib

    dd = importlib.import_module("pinnsight.diagnostics.doctor")  # the module, not `doctor` itself

    imb = {"worst_group": "bc", "figure": "f.png"}
    imb["groups"] = {"bc": {"median": 5e3, "final": 5e3, "trend_per_1000": 1.0}}
    cure = lambda setup: dd._imbalance_finding(imb, setup).cure  # noqa: E731
    assert cure({"weighting.kind": "fixed"})["set"] == {"weighting.kind": "annealing"}
    assert cure({"weighting.kind": "annealing"})["set"] == {"weighting.kind": "grad_norm"}
    done = dd._imbalance_finding(imb, {"weighting.kind": "grad_norm"})
    assert done.severity == "severe" and done.cure["set"] == {}
    assert "weighting.kind=grad_norm" in done.cure["advice"]

    st = {"ratio": 80.0, "at_step": 0, "sigma_at": 1e6, "bound_at": 2e4, "growth": 1.0, "figure": "s.png"}
    stiff = lambda **setup: dd._stiffness_finding(st, setup, known_lr=True).cure["set"]  # noqa: E731
    assert stiff(**{"net.kind": "mlp", "optim.kind": "adam"}) == {"net.kind": "modified_mlp"}
    assert stiff(**{"net.kind": "pirate", "optim.kind": "adam"}) == {"optim.kind": "soap"}
    setup = {"net.kind": "pirate", "optim.kind": "soap", "optim.learning_rate": 1e-4}
    assert stiff(**setup) == {"optim.learning_rate": pytest.approx(1e-5)}

    ntk = {"terms": {"r": 1}, "trace_ratio": {"bc": 683.0}, "decay": 24.7, "steps": [300], "figure": "n.png"}
    spectral = lambda **setup: dd._spectral_finding(ntk, setup).cure["set"]  # noqa: E731
    assert spectral(**{"weighting.kind": "grad_norm", "net.kind": "mlp"}) == {"weighting.kind": "ntk"}
    assert spectral(**{"weighting.kind": "ntk", "net.kind": "mlp"}) == {"net.kind": "fourier_mlp"}
    assert spectral(**{"weighting.kind": "ntk", "net.kind": "pirate"}) == {}
