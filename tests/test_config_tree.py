"""The config tree: sections, recipes, old configs, and one clear line for every bad value."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinnsight as ps
from pinnsight.cli import main
from pinnsight.experiments.config import ALIASES, RECIPES, RunConfig
from pinnsight.experiments.run_folder import normalised


def test_recipes_are_presets_of_the_tree():
    m4 = ps.RunConfig.create(recipe="M4")
    assert (m4.net.kind, m4.weighting.kind) == ("modified_mlp", "annealing")
    assert set(RECIPES) >= {"M1", "M2", "M3", "M4"}
    # explicit values win over the recipe, whatever the order they are given in
    cfg = ps.RunConfig.create(**{"weighting.every": 20, "recipe": "M2", "run.steps": 7})
    assert cfg.options("weighting")["every"] == 20 and cfg.run.steps == 7


def test_problem_defaults_live_in_the_registry_not_in_the_problem():
    cav = ps.RunConfig.create(problem="cavity", recipe="M4")
    assert cav.layers == (2, 50, 50, 50, 2)
    assert cav.options("weighting")["statistic"] == "layerwise"
    assert ps.RunConfig.create(problem="helmholtz", recipe="M4").options("weighting")["statistic"] == "global"
    assert not hasattr(ps.get_problem("helmholtz"), "layers")


def test_saved_config_round_trips_and_old_flat_configs_still_load():
    cfg = ps.RunConfig.create(problem="burgers", recipe="M2", sampling="rad", rad_pool=1024, nu=0.01)
    again = ps.RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict(), default=list)))
    assert again == cfg
    old = {  # a config.json written by pinnsight 0.1
        "problem": "helmholtz",
        "model": "M4",
        "steps": 40000,
        "seed": 2,
        "batch_size": 128,
        "layers": None,
        "learning_rate": 0.001,
        "decay_rate": 0.9,
        "decay_steps": 1000,
        "balance_every": 10,
        "annealing_variant": "official",
        "annealing_alpha": None,
        "annealing_statistic": None,
        "sampling": "uniform",
        "rad_pool": 8192,
        "rad_k": 1.0,
        "rad_c": 1.0,
        "chunk_size": 500,
        "x64": False,
        "hist_steps": [0, 40000],
        "hist_bins": 60,
        "stiffness_every": 0,
        "stiffness_iters": 20,
        "stiffness_terms": False,
        "problem_params": {"a2": 4.0},
    }
    tree = ps.RunConfig.from_dict(old)
    assert (tree.recipe, tree.run.seed, tree.diagnostics.hist_steps) == ("M4", 2, (0, 40000))
    assert tree.problem.params == {"a2": 4.0} and tree.net.kind == "modified_mlp"


def test_every_alias_addresses_a_real_key():
    cfg = ps.RunConfig.create()
    for alias, target in ALIASES.items():
        if target == "recipe":
            continue
        section, _, key = target.partition(".")
        assert section in cfg.to_dict(), alias


@pytest.mark.parametrize(
    "args, words",
    [
        (["--set", "x64=no"], "run.x64"),
        (["--set", "learning_rate=abc"], "optim.learning_rate"),
        (["--set", "seed=1.5"], "run.seed"),
        (["--set", "hist_steps=5"], "diagnostics.hist_steps"),
        (["--set", "a1=0"], "a1"),
        (["--set", "steps=0"], "run.steps"),
        (["--set", "weighting.kind=nope"], "weighting.kind"),
        (["--set", "weighting.bogus=1"], "weighting.bogus"),
        (["--set", "nosuchkey=1"], "nosuchkey"),
        # sections without options ([run], [diagnostics]) dropped such keys without a word once
        (["--set", "run.stepz=10"], "`run.stepz`"),
        (["--set", "diagnostics.hist_step=(0,5)"], "`diagnostics.hist_step`"),
        (["--set", "run.curriculum.steps=(5,)"], "set `run.curriculum` whole"),
        (["--recipe", "M9"], "M9"),
    ],
)
def test_bad_values_give_one_line_naming_the_key_and_no_folder(tmp_path, capsys, args, words):
    out = tmp_path / "run"
    code = main(["train", "helmholtz", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("pinnsight: error:") and err.count("\n") == 1 and words in err
    assert not out.exists()


def test_a_section_without_options_refuses_an_options_entry_of_any_type():
    """A corrupt ``config.json`` may give [run] an ``options`` entry that is not a table."""
    for bad in (5, "x", {"stepz": 1}):
        with pytest.raises(ValueError, match="unknown config key `run."):
            RunConfig.from_dict({"run": {"options": bad}})


def test_burgers_refuses_a_non_positive_viscosity(capsys):
    assert main(["config", "--problem", "burgers", "--set", "nu=-1"]) == 2
    assert "must be > 0" in capsys.readouterr().err


def test_config_file_errors(tmp_path, capsys):
    assert main(["train", "helmholtz", "--config", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [")
    assert main(["train", "helmholtz", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    other = tmp_path / "other.toml"
    other.write_text('problem = "cavity"\n[run]\nsteps = 5\n')
    assert main(["train", "helmholtz", "--config", str(other), "--out", str(tmp_path / "r")]) == 2
    assert "sets problem 'cavity'" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text('recipe = "M2"\n[run]\nsteps = 5\n[weighting]\nevery = 3\n[problem.params]\na2 = 2.0\n')
    cfg = ps.RunConfig.create(problem="helmholtz").with_toml(good)
    assert (cfg.recipe, cfg.run.steps, cfg.options("weighting")["every"], cfg.problem.params["a2"]) == (
        "M2",
        5,
        3,
        2.0,
    )


def test_config_command_prints_the_whole_tree(capsys):
    assert main(["config", "M4", "--problem", "cavity"]) == 0
    text = capsys.readouterr().out
    for key in (
        "problem.params.Re",
        "net.layers",
        "optim.learning_rate",
        "weighting.statistic",
        "sampling.batch_size",
        "diagnostics.hist_steps",
        "run.steps",
    ):
        assert key in text
    assert '"layerwise"' in text


VALUES = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.lists(st.integers(-5, 10**6), max_size=4).map(tuple),
    st.dictionaries(st.text(max_size=8), st.integers(-3, 10**6), max_size=3),
)
KEYS = st.sampled_from(
    sorted(ALIASES)
    + [
        "run.steps",
        "run.chunk_size",
        "net.layers",
        "net.kind",
        "weighting.kind",
        "weighting.every",
        "weighting.alpha",
        "sampling.kind",
        "sampling.batch_size",
        "sampling.pool",
        "sampling.fixed_from",
        "optim.kind",
        "optim.learning_rate",
        "a1",
        "a2",
        "k",
        "diagnostics.hist_bins",
        "problem",
        "recipe",
        "x.y",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=4))
def test_fuzzed_config_values_never_give_a_traceback(values):
    """Building the tree either works or raises ValueError (the CLI prints it as one line)."""
    try:
        cfg = ps.RunConfig.create(**values)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
    else:
        ps.RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict(), default=list)))


def test_the_cli_fuzz_path_prints_no_traceback(tmp_path):
    """A few bad command lines through a real process: exit 2, one line, no traceback. (The
    processes run side by side: each one is mostly the interpreter's start-up.)"""
    cmd = [sys.executable, "-m", "pinnsight.cli", "train", "helmholtz", "--out", str(tmp_path / "x")]
    bads = (["--set", "layers=(2,0,1)"], ["--set", "batch_size={'nope': 3}"], ["--set", "chunk_size=-1"])
    procs = [
        subprocess.Popen([*cmd, *bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for bad in bads
    ]
    for p in procs:
        _, stderr = p.communicate()
        assert p.returncode == 2 and "Traceback" not in stderr and stderr.startswith("pinnsight: error:")


def test_a_problem_recipe_applies_only_to_its_problem_and_freeze_from_wraps_the_balancer():
    import jax.numpy as jnp

    from pinnsight import RunConfig
    from pinnsight.experiments.build import build_balancer
    from pinnsight.problems import PROBLEMS
    from pinnsight.weighting import BalanceInputs

    entry = PROBLEMS["poisson1d"]
    entry.recipes["toy"] = {"weighting.kind": "grad_norm", "weighting.every": 1, "weighting.freeze_from": 2}
    try:
        cfg = RunConfig.create(problem="poisson1d", recipe="toy")
        assert cfg.weighting.kind == "grad_norm" and cfg.weighting.freeze_from == 2
        assert RunConfig.from_dict(cfg.to_dict()) == cfg
        with pytest.raises(ValueError, match="unknown recipe 'toy' for problem 'helmholtz'"):
            RunConfig.create(problem="helmholtz", recipe="toy")
    finally:
        del entry.recipes["toy"]
    balancer = build_balancer(cfg)
    state = balancer.init(("residual", "boundary"))
    grads = {"residual": jnp.array([3.0]), "boundary": jnp.array([1.0])}
    seen = []
    for step in range(4):
        inputs = BalanceInputs({}, grads, {}, jnp.asarray(step), None)
        state = balancer.update(inputs, state)
        seen.append(float(state.weights["boundary"]))
    assert seen[0] != 1.0 and seen[1] != seen[0]  # steps 0 and 1 update
    assert seen[3] == seen[2] == seen[1]  # from step 2 on the weights stay


def test_every_recipe_of_every_problem_round_trips_through_config_json():
    from pinnsight import RunConfig
    from pinnsight.experiments.config import recipes_for
    from pinnsight.problems import PROBLEMS

    for problem in PROBLEMS:
        for name in recipes_for(problem):
            cfg = RunConfig.create(problem=problem, recipe=name)
            back = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
            assert back == cfg, (problem, name)
            # what `reproduce`'s workers receive: every option written out (a PirateNet's
            # `periodic=()` becomes [] in JSON and must read back)
            tree = normalised(cfg)
            assert normalised(RunConfig.from_dict(tree)) == tree, (problem, name)


def test_sequence_and_mapping_options_read_back_from_json_and_the_command_line():
    """``Sequence[tuple[int, float]] | Mapping[int, float]`` (the networks' ``periodic``):
    lists for tuples, text keys for integers; wrong shapes and types are refused."""
    from collections.abc import Mapping, Sequence

    from pinnsight.experiments.options import coerce

    periodic = Sequence[tuple[int, float]] | Mapping[int, float]
    assert coerce([], periodic, "p") == ()
    assert coerce([[0, 2]], periodic, "p") == ((0, 2.0),)
    assert coerce({"1": 2}, periodic, "p") == {1: 2.0}
    for bad in ([[0.5, 2.0]], [[0, "x"]], [[0, 1.0, 2.0]], "ab", {"x": 1.0}):
        with pytest.raises(ValueError, match="`p`"):
            coerce(bad, periodic, "p")
    cfg = RunConfig.create(problem="cavity", recipe="best").with_assignments(["net.periodic={0: 2.0}"])
    assert normalised(RunConfig.from_dict(normalised(cfg))) == normalised(cfg)
