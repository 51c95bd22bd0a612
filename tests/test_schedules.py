"""The paper's learning-rate schedule and its optional linear warm-up (`optim.warmup_steps`)."""

from __future__ import annotations

import numpy as np
import optax
import pytest

import pinnsight as ps
from pinnsight.cli import main
from pinnsight.experiments.build import build_optimizer, learning_rate_at
from pinnsight.optim import paper_schedule

STEPS = np.array([0, 1, 250, 999, 1000, 1500, 2000, 2001, 3000, 7777])


def test_no_warmup_is_the_paper_schedule_itself():
    """W = 0 must leave every earlier run's numbers alone: the very same optax schedule."""
    ours = paper_schedule(3e-4, 0.9, 1000)
    plain = optax.exponential_decay(3e-4, 1000, 0.9)
    np.testing.assert_array_equal([ours(t) for t in STEPS], [plain(t) for t in STEPS])


def test_warmup_rises_linearly_then_decays_from_its_end():
    eta0, gamma, decay, warm = 1e-4, 0.9, 1000, 2000
    schedule = paper_schedule(eta0, gamma, decay, warm)
    expected = np.where(STEPS < warm, eta0 * STEPS / warm, eta0 * gamma ** ((STEPS - warm) / decay))
    got = [float(schedule(t)) for t in STEPS]  # optax computes in float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_a_bad_warmup_is_refused_in_one_line(bad, capsys, tmp_path):
    with pytest.raises(ValueError, match="warmup_steps"):
        paper_schedule(1e-3, 0.9, 1000, bad)
    out = tmp_path / "run"
    argv = ["train", "helmholtz", "--steps", "10", "--out", str(out), "--set", f"optim.warmup_steps={bad}"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "warmup_steps" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["adam", "soap"])
def test_the_config_tree_passes_the_warmup_to_the_optimiser(kind):
    """The first update of a warm-up schedule has rate 0: the parameters do not move."""
    cfg = ps.RunConfig.create(problem="helmholtz", recipe="M1").with_assignments(
        [f"optim.kind={kind}", "optim.warmup_steps=100"]
    )
    assert cfg.options("optim")["warmup_steps"] == 100
    opt = build_optimizer(cfg)
    params = {"w": np.ones((3, 2), np.float32)}
    grads = {"w": np.full((3, 2), 0.5, np.float32)}
    updates, state = opt.update(grads, opt.init(params), params)
    np.testing.assert_array_equal(updates["w"], 0.0)
    updates, _ = opt.update(grads, state, params)
    assert np.all(np.abs(np.asarray(updates["w"])) > 0)


@pytest.mark.parametrize("kind", ["adam", "soap", "adam_lbfgs"])
def test_the_stiffness_bound_reads_the_schedule_of_every_optimiser_on_it(kind):
    """`learning_rate_at` (the 2/η of training's stiffness records and of the doctor) is the
    schedule the optimiser runs: before, SOAP's and ``adam_lbfgs``'s training records had none."""
    cfg = ps.RunConfig.create(problem="helmholtz", recipe="M1").with_assignments(
        [f"optim.kind={kind}", "optim.learning_rate=2e-3", "optim.decay_rate=0.5", "optim.decay_steps=100"]
    )
    schedule = learning_rate_at(cfg)
    expected = 2e-3 * 0.5 ** (STEPS / 100)
    np.testing.assert_allclose([float(schedule(t)) for t in STEPS], expected, rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize(
    "keys",
    [["optim.kind=adam_lbfgs", "optim.switch_step=1000"], ["optim.polish=lbfgs", "optim.polish_from=1000"]],
)
def test_no_stiffness_bound_once_a_line_search_sets_the_step(keys):
    """From L-BFGS's first step no rate bounds the step: the bound is NaN there (the doctor and
    the run's stiffness records skip it), the schedule before it."""
    cfg = ps.RunConfig.create(problem="helmholtz", recipe="M1").with_assignments(keys)
    schedule = learning_rate_at(cfg)
    rates = np.array([float(schedule(t)) for t in STEPS])
    np.testing.assert_array_equal(np.isnan(rates), STEPS >= 1000)
    np.testing.assert_allclose(rates[STEPS < 1000], 1e-3 * 0.9 ** (STEPS[STEPS < 1000] / 1000), rtol=1e-5)
