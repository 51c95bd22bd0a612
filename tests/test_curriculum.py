"""Curricula (issue 10): stages along a ladder of one problem parameter, each warm-started from
the previous stage's network; stages recorded, resumable mid-curriculum bit for bit, bad specs
refused in one line; the problems' own ``best`` recipes and ``reproduce --recipes``."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import jax
import pytest

import pinnsight as ps
from pinnsight import interrupt
from pinnsight.cli import main
from pinnsight.experiments.build import build, build_balancer, build_optimizer, build_sampler
from pinnsight.experiments.curriculum import STAGES_FILE, stages_of
from pinnsight.experiments.runs import _stage_batch, load_run, run

TINY = {"net.layers": (1, 8, 8, 1), "run.chunk_size": 10, "run.steps": 20}
LADDER = {"C": (1.0,), "steps": (20,)}
# timings: columns and summary keys
NOT_REPRODUCIBLE = ("wall_time", "steps_per_s", "eval_log", "compile_time")


def _config(**values) -> ps.RunConfig:
    """Poisson 1D at C = 2 after a stage at C = 1: 20 + 20 steps of a tiny network."""
    return ps.RunConfig.create(problem="poisson1d", **{"C": 2.0, **TINY, "run.curriculum": LADDER, **values})


@pytest.fixture(scope="module", autouse=True)
def in_process_cache(tmp_path_factory):
    """The same tiny stages compile several times here: cache them (restored after)."""
    old = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla-cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield
    jax.config.update("jax_compilation_cache_dir", old)


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as fh:
        return [
            {k: v for k, v in r.items() if not k.startswith(NOT_REPRODUCIBLE)} for r in csv.DictReader(fh)
        ]


def _summary(folder: Path) -> dict:
    s = json.loads((folder / "summary.json").read_text())
    return {
        k: v
        for k, v in s.items()
        if not k.startswith(NOT_REPRODUCIBLE) and k not in ("train_time_s", "start_step")
    }


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The 2-stage run, uninterrupted."""
    out = tmp_path_factory.mktemp("whole") / "run"
    run(_config(), out, progress=False)
    return out


# -- the stages ---------------------------------------------------------------------------------


def test_the_ladder_leads_to_the_run_s_own_value():
    stages = stages_of(_config())
    assert [(s.value, s.start, s.steps) for s in stages] == [(1.0, 0, 20), (2.0, 20, 20)]
    assert stages[-1].final and stages[-1].params == {"C": 2.0} and _config().total_steps == 40
    # values at or past the target are dropped: one stage, exactly a run without a curriculum
    assert len(stages_of(_config(C=1.0))) == 1 and _config(C=1.0).total_steps == 20
    down = _config(C=2.0, **{"run.curriculum": {"C": (8.0, 4.0, 1.0), "steps": (5, 6, 7)}})
    assert [(s.value, s.steps) for s in stages_of(down)] == [(8.0, 5), (4.0, 6), (2.0, 20)]
    # the cavity's `curriculum` and `best` recipes: stages only above Re = 100, ending at the
    # run's own Re
    cases = [(100, [100.0]), (400, [100.0, 400.0]), (1000, [100.0, 400.0, 1000.0])]
    for recipe, (re, ladder) in itertools.product(("curriculum", "best"), cases):
        cfg = ps.RunConfig.create(problem="cavity", recipe=recipe, Re=re)
        stages = stages_of(cfg)
        assert [s.value for s in stages] == ladder and stages[-1].steps == cfg.run.steps
        assert float(stages[-1].params.get("Re", 100.0)) == re


BAD = [
    (5, "must be a table"),
    ({"C": (1.0,)}, "needs `steps`"),
    ({"steps": (10,)}, "exactly one parameter"),
    ({"a2": (1.0,), "steps": (10,)}, "not a parameter of problem 'poisson1d'"),
    ({"C": (), "steps": ()}, "no values"),
    ({"C": (1.0, 3.0), "steps": (10,)}, "2 value(s) of 'C' but 1 `steps`"),
    ({"C": (1.0,), "steps": (0,)}, "positive integer"),
    ({"C": (1.0,), "steps": (2.5,)}, "positive integer"),
    ({"C": (1.0, 0.0), "steps": (1, 1)}, "must be non-zero"),
    ({"C": (1.0, 3.0, 2.0), "steps": (1, 1, 1)}, "strictly increasing or decreasing"),
    ({"C": 1.0, "steps": 10}, "must be a tuple"),
    ({"learning_rate": (1e-3,), "steps": (10,)}, "exactly one parameter"),
    ({"C": (1.0,), "steps": (10,), "learning_rate": (1e-3, 1e-4)}, "1 value(s) of 'C' but 2 `learning_rate`"),
    ({"C": (1.0,), "steps": (10,), "learning_rate": (0.0,)}, "positive finite number"),
    ({"C": (1.0,), "steps": (10,), "learning_rate": (-1e-3,)}, "positive finite number"),
    ({"batch_size": (64,), "steps": (10,)}, "exactly one parameter"),
    ({"C": (1.0,), "steps": (10,), "batch_size": (64, 32)}, "1 value(s) of 'C' but 2 `batch_size`"),
    ({"C": (1.0,), "steps": (10,), "batch_size": (0,)}, "None, a positive integer"),
    ({"C": (1.0,), "steps": (10,), "batch_size": (2.5,)}, "None, a positive integer"),
    ({"C": (1.0,), "steps": (10,), "batch_size": ({"residual": 0},)}, "None, a positive integer"),
    ({"C": (1.0,), "steps": (10,), "batch_size": ({},)}, "a non-empty {term"),
    ({"C": (1.0,), "steps": (10,), "final_params": (None, None)}, "1 value(s) of 'C' but 2 `final_params`"),
    ({"C": (1.0,), "steps": (10,), "final_params": (4,)}, "None or a non-empty table"),
    ({"C": (1.0,), "steps": (10,), "final_params": ({},)}, "None or a non-empty table"),
    ({"C": (1.0,), "steps": (10,), "final_params": ({"C": 2.0},)}, "has 'C' in final_params"),
    ({"C": (1.0,), "steps": (10,), "final_params": ({"zz": 2.0},)}, "unknown parameter(s) ['zz']"),
]


@pytest.mark.parametrize(("spec", "words"), BAD)
def test_a_bad_curriculum_is_one_line_naming_the_key(spec, words):
    with pytest.raises(ValueError) as err:
        _config(**{"run.curriculum": spec})
    text = str(err.value)
    assert "run.curriculum" in text and words in text and "\n" not in text


def test_the_command_refuses_a_bad_curriculum_before_any_folder(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(
        [
            "train",
            "poisson1d",
            "--out",
            str(out),
            "--set",
            "run.curriculum={'C': (1, 3, 2), 'steps': (1, 1, 1)}",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        code == 2 and len(err) == 1 and err[0].startswith("pinnsight: error:") and "run.curriculum" in err[0]
    )
    assert not out.exists()


# -- a run in stages -----------------------------------------------------------------------------


def test_the_stages_are_recorded(whole):
    rows = _rows(whole)
    assert [(r["step"], r["stage"], r["stage_C"]) for r in rows] == [
        ("10", "0.0", "1.0"), ("20", "0.0", "1.0"), ("30", "1.0", "2.0"), ("40", "1.0", "2.0")
    ]  # fmt: skip
    s = json.loads((whole / "summary.json").read_text())
    assert s["status"] == "finished" and s["steps"] == 40
    first, last = s["stages"]
    assert (first["params"], first["start_step"], first["end_step"]) == ({"C": 1.0}, 0, 20)
    assert (last["params"], last["start_step"], last["end_step"]) == ({"C": 2.0}, 20, 40)
    assert last["final_error"] == s["final_error"] and set(first["imbalance"]) == {"bc"}
    assert json.loads((whole / STAGES_FILE).read_text())["stages"] == [first]


def test_the_report_shows_the_stages_as_a_table(whole):
    from pinnsight.report.run_report import _stage_section

    stages = json.loads((whole / "summary.json").read_text())["stages"]
    heading, text, _ = _stage_section(stages)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert heading == "Stages" and table[0].startswith("| stage | parameter | steps | error at its value")
    assert "λ bc" in table[0] and "imbalance bc" in table[0]
    assert ("σ_max" in table[0]) == any("sigma_max" in rec for rec in stages)
    assert table[1].startswith("| 0 | C=1 | 0–20 | ") and table[2].startswith("| 1 | C=2 | 20–40 | ")
    assert all(line.count("|") == table[0].count("|") for line in table[1:])
    _, text, _ = _stage_section([{**stages[0], "sigma_max": 12.5}, stages[1]])  # σ_max recorded
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].endswith("| σ_max |") and table[1].endswith("| 12.5 |") and table[2].endswith("|  |")
    both = [{**rec, "final_lambda": {"bc": 2.0, "residual": 0.5}} for rec in stages]  # grad-norm λ
    header = _stage_section(both)[1].splitlines()[2]
    assert "λ residual" in header and "imbalance residual" not in header  # a ratio per constraint group


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """The run at C = 1 without a curriculum (the 2-stage run's first stage, alone)."""
    out = tmp_path_factory.mktemp("plain") / "run"
    run(_config(C=1.0, **{"run.curriculum": {}}), out, progress=False)
    return out


def _second_stage_by_hand(
    plain: Path, learning_rate: float | None = None, batch_size=None, weighting=None
) -> ps.FitResult:
    """`fit` at C = 2 from ``plain``'s final network, with a fresh optimiser (initial rate
    ``learning_rate``, else the config's) and balancer state, the key fold_in(key, 1), the
    run's step count going on from 20, ``batch_size`` points (else the config's) and the
    balancer of the ``weighting`` keys (``{"kind": ..., option: ...}``, else the config's)."""
    cfg = _config()
    if learning_rate is not None:
        cfg = cfg.override(**{"optim.learning_rate": learning_rate})
    if batch_size is not None:
        cfg = cfg.override(**{"sampling.batch_size": batch_size})
    if weighting is not None:
        cfg = cfg.override(**{f"weighting.{k}": v for k, v in weighting.items()})
    problem, net, key = build(cfg)
    _, _, trained = load_run(plain)
    optimizer, balancer, sampler = build_optimizer(cfg), build_balancer(cfg), build_sampler(cfg, problem)
    k1 = jax.random.fold_in(key, 1)
    state = ps.init_state(problem, trained, optimizer, balancer, sampler, k1)
    state = state._replace(step=state.step + 20)
    kw = dict(optimizer=optimizer, sampler=sampler, batch_size=cfg.sampling.batch_size, chunk_size=10)
    return ps.fit(problem, net, balancer, steps=40, key=k1, state=state, **kw)


def _same_stage(rows: list[dict[str, str]], result: ps.FitResult) -> bool:
    return [float(r["loss"]) for r in rows] == [float(v) for v in result.history["loss"]] and [
        float(r["error"]) for r in rows
    ] == [float(v) for v in result.history["error"]]


def test_the_second_stage_is_warm_started_from_the_first_stage_s_network(whole, plain):
    # stage 0 is exactly the run at C = 1 without a curriculum ...
    drop = ("stage", "stage_C")
    assert [{k: v for k, v in r.items() if k not in drop} for r in _rows(whole)[:2]] == _rows(plain)
    # ... and stage 1 is `fit` at C = 2 from that run's final network (`_second_stage_by_hand`)
    assert _same_stage(_rows(whole)[2:], _second_stage_by_hand(plain))
    # (and that network is not the initial one: the equality above is not a cold start's)
    _, _, trained = load_run(plain)
    _, net, _ = build(_config())
    assert any(
        bool((a != b).any()) for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(net), strict=True)
    )


def test_a_stage_starts_at_its_own_learning_rate(whole, plain, tmp_path):
    default = _config().options("optim")["learning_rate"]
    spec = {"C": (1.0, 2.0), "steps": (20, 99), "learning_rate": (default, default / 10)}
    stages = stages_of(_config(**{"run.curriculum": spec}))
    # the target C = 2 is on the ladder: its stage takes the ladder's rate (and run.steps)
    assert [(s.learning_rate, s.steps) for s in stages] == [(default, 20), (default / 10, 20)]
    off = stages_of(_config(C=3.0, **{"run.curriculum": spec}))  # off the ladder: optim's rate
    assert [s.learning_rate for s in off] == [default, default / 10, None]
    out = tmp_path / "run"
    run(_config(**{"run.curriculum": spec}), out, progress=False)
    rows = _rows(out)
    assert rows[:2] == _rows(whole)[:2]  # the first stage at the config's own rate: unchanged
    assert _same_stage(rows[2:], _second_stage_by_hand(plain, default / 10))
    assert not _same_stage(rows[2:], _second_stage_by_hand(plain))  # the rate did something


BATCHED = {"C": (1.0, 2.0), "steps": (20, 99), "batch_size": (None, {"residual": 48, "bc_lo": 3})}


def test_a_stage_trains_on_its_own_batch(whole, plain, tmp_path, capsys):
    stages = stages_of(_config(**{"run.curriculum": BATCHED}))
    # the target C = 2 is on the ladder: its stage trains on the ladder's batch
    assert [s.batch_size for s in stages] == [None, {"residual": 48, "bc_lo": 3}]
    assert [s.batch_size for s in stages_of(_config(C=3.0, **{"run.curriculum": BATCHED}))][-1] is None
    # a dict names the terms it changes, the others keep sampling.batch_size; an int replaces it
    poisson = ps.get_problem("poisson1d")
    cfg = _config(**{"run.curriculum": BATCHED, "sampling.batch_size": 16})
    assert _stage_batch(cfg, stages_of(cfg)[-1], poisson) == {"residual": 48, "bc_lo": 3, "bc_hi": 16}
    cfg = _config(**{"run.curriculum": {**BATCHED, "batch_size": (None, 8)}, "sampling.batch_size": 16})
    assert [_stage_batch(cfg, s, poisson) for s in stages_of(cfg)] == [16, 8]
    out = tmp_path / "run"
    run(_config(**{"run.curriculum": BATCHED}), out, progress=False)
    rows = _rows(out)
    assert rows[:2] == _rows(whole)[:2]  # the first stage at sampling.batch_size: unchanged
    assert _same_stage(rows[2:], _second_stage_by_hand(plain, batch_size={"residual": 48, "bc_lo": 3}))
    assert not _same_stage(rows[2:], _second_stage_by_hand(plain))  # the batch did something
    # stopped inside the batched stage and resumed: the same run, bit for bit
    again = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        run(_config(**{"run.curriculum": BATCHED}), again, progress=False, callbacks=[_StopAt(30)])
    interrupt.clear()
    run(_config(**{"run.curriculum": BATCHED}), again, progress=False)
    assert f"resuming {again} from step 30 of 40" in capsys.readouterr().err
    assert _rows(again) == rows and (again / "model.eqx").read_bytes() == (out / "model.eqx").read_bytes()


WEIGHTED = {
    "C": (1.0, 2.0),
    "steps": (20, 99),
    "weighting": (None, {"kind": "fixed", "weights": {"bc": 10.0}}),
}


def test_a_stage_trains_with_its_own_weights(whole, plain, tmp_path):
    stages = stages_of(_config(**{"run.curriculum": WEIGHTED}))
    assert [s.weighting for s in stages] == [None, {"kind": "fixed", "weights": {"bc": 10.0}}]
    out = tmp_path / "run"
    run(_config(**{"run.curriculum": WEIGHTED}), out, progress=False)
    rows = _rows(out)
    assert rows[:2] == _rows(whole)[:2]  # the first stage with the run's own weights: unchanged
    assert [float(r["lambda_bc"]) for r in rows] == [1.0, 1.0, 10.0, 10.0]
    assert _same_stage(rows[2:], _second_stage_by_hand(plain, weighting=WEIGHTED["weighting"][1]))
    assert not _same_stage(rows[2:], _second_stage_by_hand(plain))  # the weights did something


def test_a_stage_with_another_balancer_resumes_bit_identical(tmp_path, capsys):
    """A run whose balancer (annealing) is not its last stage's (fixed): the checkpoint inside
    that stage holds the stage's balancer state, and resuming reads it as such."""
    config = _config(**{"run.curriculum": WEIGHTED, "weighting.kind": "annealing", "weighting.every": 5})
    whole_run, again = tmp_path / "whole", tmp_path / "again"
    run(config, whole_run, progress=False)
    lam = [float(r["lambda_bc"]) for r in _rows(whole_run)]
    assert lam[1] != 1.0 and lam[2:] == [10.0, 10.0]  # annealing in stage 0, fixed in stage 1
    for stop in (30, 20):
        with pytest.raises(KeyboardInterrupt):
            run(config, again, progress=False, callbacks=[_StopAt(stop)], overwrite=True)
        interrupt.clear()
        run(config, again, progress=False)
        assert f"resuming {again} from step {stop} of 40" in capsys.readouterr().err
        assert _rows(again) == _rows(whole_run)
        assert (again / "model.eqx").read_bytes() == (whole_run / "model.eqx").read_bytes()


def test_a_stage_weighting_without_a_kind_replaces_the_options_it_names():
    from pinnsight.experiments.runs import stage_config

    run_level = {"weighting.kind": "annealing", "weighting.alpha": 0.5, "weighting.freeze_from": 7}
    for entry, want in [
        ({"alpha": 0.3}, ("annealing", {"alpha": 0.3}, 7)),
        ({"kind": "fixed", "weights": {"bc": 2.0}}, ("fixed", {"weights": {"bc": 2.0}}, 7)),
        ({"kind": "grad_norm", "freeze_from": None}, ("grad_norm", {}, None)),
    ]:
        cfg = _config(**{"run.curriculum": {**WEIGHTED, "weighting": (None, entry)}, **run_level})
        stage = stages_of(cfg)[-1]
        w = stage_config(cfg, stage, None).weighting
        assert (w.kind, w.options, w.freeze_from) == want, entry
    # a run whose own balancer has options of another kind: an entry without a kind still works
    cfg = _config(
        **{
            "weighting.kind": "fixed",
            "weighting.every": 5,
            "run.curriculum": {**WEIGHTED, "weighting": (None, {"weights": {"bc": 2.0}})},
        }
    )
    assert stage_config(cfg, stages_of(cfg)[-1], None).weighting.options["weights"] == {"bc": 2.0}


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{'kind': 'fixed', 'weights': {'walls': 1.0}}", ["weighting at C = 2", "'walls'", "residual, bc"]),
        ("{'options': {'alpha': 0.3}}", ["weighting", "not under 'options'"]),
        ("{'kind': 'fixed', 'weights': {'bc': -1.0}}", ["weighting", "must be >= 0"]),
        ("{'kind': 'balanced'}", ["weighting", "unknown weighting.kind 'balanced'"]),
        ("{}", ["weighting", "non-empty table"]),
    ],
    ids=["unknown-term", "nested-options", "negative-weight", "unknown-kind", "empty"],
)
def test_a_bad_stage_weighting_is_refused_before_any_folder(tmp_path, capsys, entry, words):
    out = tmp_path / "never"
    spec = f"run.curriculum={{'C': (1.0, 2.0), 'steps': (20, 20), 'weighting': (None, {entry})}}"
    code = main(["train", "poisson1d", "--out", str(out), "--set", "C=2.0", spec])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not out.exists(), err
    assert "run.curriculum" in err[0] and all(w in err[0] for w in words), err[0]


def test_a_stage_batch_naming_no_term_is_refused_before_any_folder(tmp_path, capsys):
    out = tmp_path / "never"
    spec = "run.curriculum={'C': (1.0, 2.0), 'steps': (20, 20), 'batch_size': (None, {'walls': 8})}"
    code = main(["train", "poisson1d", "--out", str(out), "--set", "C=2.0", spec])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not out.exists()
    assert "run.curriculum" in err[0] and "C = 2" in err[0] and "'walls'" in err[0] and "bc_lo" in err[0]


def test_a_last_stage_too_large_for_memory_is_refused_before_the_first_trains(tmp_path, capsys, monkeypatch):
    """The last stage's own batch is checked against memory when the run starts (not when that
    stage starts, after the others have trained): one line naming the stage, no folder. The
    run's own batch fits, so nothing else refuses it (a ladder whose stage batch fits trains:
    `test_a_stage_trains_on_its_own_batch`)."""
    from pinnsight import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 2 * 1024**3)
    out = tmp_path / "never"
    spec = "run.curriculum={'C': (1.0, 2.0), 'steps': (20, 20), 'batch_size': (None, 10000000)}"
    code = main(
        ["train", "poisson1d", "--quiet", "--out", str(out), "--set", "C=2.0", "net.layers=(1,8,8,1)", spec]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not out.exists(), err
    assert "`run.curriculum` batch_size at C = 2" in err[0] and "only 2.0 GiB is available" in err[0]


class _StopAt(ps.Callback):
    """Asks the loop to stop after the chunk that ends at ``step`` (as SIGINT would)."""

    def __init__(self, step: int):
        self.step = step

    def on_chunk(self, ctx, row):
        if ctx.done == self.step:
            interrupt.request("test")


@pytest.mark.parametrize(
    ("stop", "lose_records"),
    [(30, False), (20, False), (20, True)],
    ids=["mid-stage", "at-the-boundary", "killed-before-the-stage-record"],
)
def test_a_run_stopped_mid_curriculum_resumes_bit_identical(whole, tmp_path, stop, lose_records, capsys):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(_config(), out, progress=False, callbacks=[_StopAt(stop)])
    interrupt.clear()
    assert not (out / "summary.json").exists() and (out / "state.eqx").exists()
    if lose_records:
        (out / STAGES_FILE).unlink()
    run(_config(), out, progress=False)
    assert f"resuming {out} from step {stop} of 40" in capsys.readouterr().err
    for name in ("model.eqx", "state.eqx", STAGES_FILE):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert _rows(out) == _rows(whole)
    assert _summary(out) == _summary(whole)


# -- the run's own stage: final_params -----------------------------------------------------------


def _helmholtz(**values) -> ps.RunConfig:
    """Helmholtz at a1 = 2 after a stage at a1 = 1, the last stage with k = 2 if the ladder's
    ``final_params`` say so: 20 + 20 steps of a tiny network."""
    base = {"a1": 2.0, "net.layers": (2, 8, 8, 1), "run.chunk_size": 10, "run.steps": 20}
    return ps.RunConfig.create(problem="helmholtz", **{**base, **values})


def test_final_params_change_the_run_s_own_stage_only(tmp_path):
    ladder = {"a1": (1.0, 2.0), "steps": (20, 99), "final_params": (None, {"k": 2.0})}
    cfg = _helmholtz(**{"run.curriculum": ladder})
    assert [s.params for s in stages_of(cfg)] == [{"a1": 1.0}, {"a1": 2.0, "k": 2.0}]
    # a run ending elsewhere (a1 = 3, off the ladder) takes none of them
    off = stages_of(_helmholtz(a1=3.0, **{"run.curriculum": ladder}))
    assert [s.params.get("k") for s in off] == [None] * 3
    # the run's own problem.params win over them
    assert stages_of(_helmholtz(k=1.5, **{"run.curriculum": ladder}))[-1].params["k"] == 1.5
    out = tmp_path / "run"
    run(cfg, out, progress=False)
    config, problem, net = load_run(out)  # the folder alone rebuilds the last stage's problem
    assert problem.params["k"] == 2.0 and config == cfg
    ref = problem.reference_data
    error = float(ps.losses.relative_l2(problem.observe(net, ref.points), ref.values))
    summary = json.loads((out / "summary.json").read_text())
    assert error == pytest.approx(summary["final_error"], rel=1e-5)
    plain = tmp_path / "plain"  # the same ladder without final_params: another last stage
    run(_helmholtz(**{"run.curriculum": {"a1": (1.0, 2.0), "steps": (20, 99)}}), plain, progress=False)
    assert _rows(plain)[:2] == _rows(out)[:2] and _rows(plain)[2:] != _rows(out)[2:]


def test_the_cavity_s_best_adds_the_corner_flow_at_re_100_only():
    from pinnsight.experiments.build import build_problem

    def last(recipe, **values):
        return stages_of(ps.RunConfig.create(problem="cavity", recipe=recipe, **values))[-1].params

    best = ps.RunConfig.create(problem="cavity", recipe="best")
    # at Re = 100: the corner flow's very problem, within 0.3 of each end
    assert last("best") == last("corner_flow", singular_radius=0.3)
    assert build_problem(best).params["singular_radius"] == 0.3
    for re in (400, 1000):  # above it, no stage has the corner flow
        stages = stages_of(ps.RunConfig.create(problem="cavity", recipe="best", Re=re))
        assert not any(s.params.get("singular_corners") for s in stages)
    assert last("best", singular_radius=0.25)["singular_radius"] == 0.25  # a value set wins


def test_the_cavity_s_best_holds_the_wall_weight_at_10_at_re_1000():
    from pinnsight.experiments.config import stage_weighting

    def stages(**values):
        cfg = ps.RunConfig.create(problem="cavity", recipe="best", **values)
        return [(s.learning_rate, stage_weighting(cfg.weighting, s.weighting)) for s in stages_of(cfg)]

    assert [w.kind for _, w in stages()] == ["grad_norm"]  # Re = 100: one stage, grad-norm
    assert [w.kind for _, w in stages(Re=400)] == ["grad_norm", "grad_norm"]
    *below, (rate, last) = stages(Re=1000)
    assert [w.kind for _, w in below] == ["grad_norm", "grad_norm"]
    assert last.kind == "fixed" and last.options["weights"] == {"bc": 10.0}  # the residual at 1
    assert rate == 2e-4 and [r for r, _ in below] == [1e-3, 3e-4]


# -- recipes and the recipe table ----------------------------------------------------------------


def test_best_recipes_are_listed_and_valid(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "best     (cavity)" in out and "best     (burgers)" in out
    for problem in ("cavity", "burgers"):
        cfg = ps.RunConfig.create(problem=problem, recipe="best")
        assert cfg.recipe == "best" and cfg.run.steps > 0
    assert main(["config", "curriculum", "--problem", "cavity", "--set", "Re=1000"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("  # stages: Re = 100 (") and " -> 400 (" in last and " -> 1000 (" in last
    from pinnsight.experiments.describe import describe

    cfg = _config(**{"run.curriculum": {"C": (1.0, 2.0), "steps": (20, 5), "learning_rate": (0.01, 0.002)}})
    last = describe(cfg).splitlines()[-1]
    assert last == (
        "  # stages: C = 1 (20 steps, learning rate 0.01) -> 2 (20 steps, learning rate 0.002); "
        "40 steps in all"
    )
    last = describe(_config(**{"run.curriculum": {**BATCHED, "C": (1.0, 4.0)}})).splitlines()[-1]
    assert last == "  # stages: C = 1 (20 steps) -> 2 (20 steps); 40 steps in all"  # 4: past the target
    last = describe(_config(**{"run.curriculum": BATCHED})).splitlines()[-1]
    assert last == "  # stages: C = 1 (20 steps) -> 2 (20 steps, batch residual=48 bc_lo=3); 40 steps in all"
    last = describe(_config(**{"run.curriculum": WEIGHTED})).splitlines()[-1]
    assert last == (
        '  # stages: C = 1 (20 steps) -> 2 (20 steps, weighting kind="fixed" weights={"bc": 10.0}); '
        "40 steps in all"
    )


def test_reproduce_recipes_makes_a_second_resumable_table(tmp_path):
    from pinnsight.experiments.reproduce import recipe_suite, reproduce
    from pinnsight.problems import PROBLEMS

    expected = {p: ("best",) for p in PROBLEMS}  # every built-in problem has its own `best`
    assert recipe_suite("best") == expected
    with pytest.raises(ValueError, match="no built-in problem has a recipe 'M1'"):
        recipe_suite("M1")
    results = tmp_path / "RESULTS.md"
    results.write_text("# R\n\n<!-- reproduce:begin -->\npaper\n<!-- reproduce:end -->\n\nafter\n")
    entry = PROBLEMS["poisson1d"]
    entry.recipes["toy"] = {**TINY, "problem.params.C": 2.0, "run.curriculum": LADDER}
    try:
        kw = dict(seeds=(0,), out=tmp_path / "rep", workers=1, suite={"poisson1d": ("toy",)}, results=results)
        first = reproduce(recipe="toy", **kw)
        model = tmp_path / "rep" / "poisson1d" / "toy" / "seed0" / "model.eqx"
        stamp = model.stat().st_mtime_ns
        second = reproduce(recipe="toy", **kw)  # finished runs are reused
    finally:
        del entry.recipes["toy"]
    assert model.stat().st_mtime_ns == stamp and first["table"] == second["table"]
    summary = json.loads(model.with_name("summary.json").read_text())
    assert summary["steps"] == 40 and len(summary["stages"]) == 2
    text = results.read_text()
    assert (
        text.index("<!-- reproduce:end -->")
        < text.index("<!-- reproduce-toy:begin -->")
        < text.index("after")
    )
    assert text.count("<!-- reproduce-toy:begin -->") == 1 and "poisson1d | toy" in text and "paper" in text
