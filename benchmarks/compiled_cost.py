"""XLA's cost of one compiled chunk of M1–M4 (Helmholtz), for a given checkout.

    python benchmarks/compiled_cost.py CHECKOUT_DIR

Compiles a 10-step `lax.scan` chunk of each model with that checkout's own
``benchmarks/speed.py`` and prints XLA's cost analysis (FLOPs, bytes accessed) and the
size of the optimised HLO (instructions, fusions). Two checkouts with the same numbers
run the same arithmetic; unlike a timing, this does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import re
import sys

root = sys.argv[1]
sys.path[:0] = [root + "/src", root + "/benchmarks"]

import jax  # noqa: E402
import speed  # noqa: E402

import pinnsight as ps  # noqa: E402


def config(model: str):
    if hasattr(ps.RunConfig, "create"):
        return ps.RunConfig.create(problem="helmholtz", recipe=model)
    return ps.RunConfig(problem="helmholtz", model=model)  # pinnsight 0.1


out = {}
for m in ("M1", "M2", "M3", "M4"):
    step, state = speed.step_and_state(config(m))
    chunk = jax.jit(lambda s, step=step: jax.lax.scan(lambda c, _: step(c), s, None, length=10))
    compiled = chunk.lower(state).compile()
    text = compiled.as_text()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    out[m] = {
        "flops": cost.get("flops"),
        "bytes": cost.get("bytes accessed"),
        "instructions": len([ln for ln in text.splitlines() if re.match(r"\s+\S+ = ", ln)]),
        "fusions": text.count("fusion("),
    }
print(json.dumps(out))
