import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


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
