import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

HEAVY_FIRST = (
    "test_robustness.py",
    "test_cli.py",
    "test_curriculum.py",
    "test_core_seams.py",
    "test_devices.py",
    "test_train.py",
    "test_doctor.py",
    "test_reference.py",
    "test_diagnostics.py",
    "test_gauss_newton.py",
)
"""The files with the longest tests (`pytest --durations=25`, 2026-12-07), handed out first.

With ``-n 2 --dist loadfile --no-loadscope-reorder`` (pyproject.toml) each worker takes the next
file when it is free, in collection order: long files first and the short ones at the end keep
both workers busy to the last minute (longest-first scheduling). xdist's own order (most tests
first) left one worker alone for minutes with a long file of few tests."""


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


@pytest.fixture(scope="session", autouse=True)
def xla_compilation_cache(tmp_path_factory):
    """One persistent XLA compilation cache for this test process, in a fresh folder per session:
    the suite trains the same small configs again and again (resumes, reruns, the same tiny
    network in many files), and an identical program is then compiled once and loaded after.
    The executable is the same, so are the numbers. Only this process uses it: subprocesses
    (one-thread XLA clients, `pinnsight.experiments.process`) are not handed it."""
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla-cache-session")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield


@pytest.fixture
def getkey():
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 1000))
    return lambda: next(keys)
