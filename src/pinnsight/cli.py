"""The ``pinnsight`` command line: list, train, compare, study, reproduce, diagnose, doctor."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _base_config(args):
    """The config tree of a command: problem, then --config, --recipe/--model, flags, --set."""
    from .experiments.config import RunConfig

    cfg = RunConfig.create(problem=args.problem)
    if getattr(args, "config", None):
        cfg = cfg.with_toml(args.config)
        if cfg.problem.name != args.problem:
            raise ValueError(
                f"--config {args.config} sets problem {cfg.problem.name!r} but the command names "
                f"{args.problem!r}; remove `problem` from the file or run `pinnsight ... {cfg.problem.name}`."
            )
    values = {}
    recipe = getattr(args, "recipe", None) or getattr(args, "model", None)
    if recipe is not None:
        values["recipe"] = recipe
    for name in ("steps", "seed", "devices"):
        v = getattr(args, name, None)
        if v is not None:
            values[name] = v
    if getattr(args, "x64", False):
        values["x64"] = True
    cfg = cfg.override(**values) if values else cfg
    return cfg.with_assignments(args.assignments or [])


def _cmd_list(args) -> int:
    from .experiments.config import RECIPES, REGISTRIES
    from .problems import PROBLEMS, problem_defaults

    print("problems:")
    for name, entry in sorted(PROBLEMS.items()):
        params = ", ".join(f"{k}={v}" for k, v in problem_defaults(name).items())
        print(f"  {name:20s} {entry.description}\n  {'':20s} parameters: {params}")
    print("recipes (--recipe NAME):")
    for name, preset in RECIPES.items():
        print(f"  {name:8s} " + ", ".join(f"{k}={v}" for k, v in preset.items()))
    for pname, entry in sorted(PROBLEMS.items()):
        for name, preset in entry.recipes.items():
            print(f"  {name:8s} ({pname}) " + ", ".join(f"{k}={v}" for k, v in preset.items()))
    for section, reg in REGISTRIES.items():
        print(f"{section}.kind: {', '.join(reg)}")
    return 0


def _cmd_config(args) -> int:
    cfg = _base_config(args)
    print(cfg.describe())
    return 0


def _cmd_train(args) -> int:
    from .experiments.runs import run
    from .report.run_report import render_run

    cfg = _base_config(args)
    out = Path(args.out or f"runs/{cfg.problem.name}-{cfg.recipe}-seed{cfg.run.seed}")
    if not args.overwrite and (out / "summary.json").exists() and not (out / "report.html").exists():
        from .experiments.run_folder import inspect_run

        status = inspect_run(out, cfg)  # killed while drawing its report: finish the command
        if status.complete and status.same_config:
            return _train_done(cfg, status.summary, out, render_run(out))
    result = run(cfg, out, overwrite=args.overwrite, progress=not args.quiet)
    return _train_done(cfg, result.summary, out, render_run(out))


def _train_done(cfg, s, out, page) -> int:
    rate = f"{s['steps_per_s']:.0f} steps/s" if s.get("steps_per_s") else "no steps"
    error = f"{s['final_error']:.3e}" if s.get("final_error") is not None else "n/a"
    print(
        f"{cfg.problem.name} {cfg.recipe} seed {cfg.run.seed}: relative L2 {error}, "
        f"{s['steps'] - s.get('start_step', 0)} steps in {s['wall_time_s']:.1f} s "
        f"({rate}, compilation included)"
    )
    if s["status"] == "degraded":
        print(f"pinnsight: warning: the run degraded: {s.get('warning')}", file=sys.stderr)
    print(f"run folder: {out}\nreport: {page}")
    return 0


def _cmd_compare(args) -> int:
    from .experiments.compare import compare

    cfg = _base_config(args)
    out = Path(args.out or f"runs/compare-{cfg.problem.name}")
    models = [m.strip() for m in (args.recipes or args.models).split(",")]
    table = compare(
        cfg, models=models, seeds=args.seeds, out=out, workers=args.jobs, overwrite=args.overwrite
    )
    print(f"\n{cfg.problem.name}: {cfg.run.steps} steps, seeds {args.seeds}")
    print(f"{'model':6} {'median rel. L2':>15} {'min':>10} {'max':>10} {'wall s':>8} {'steps/s':>8}")
    for m, t in table.items():
        print(
            f"{m:6} {t['median_error']:15.3e} {t['min_error']:10.3e} {t['max_error']:10.3e} "
            f"{t['wall_time_s']:8.1f} {t['steps_per_s']:8.0f}"
        )
        for f in t["failures"]:
            print(f"   failed: {f}")
        for w in t.get("degraded", []):
            print(f"   degraded: {w}")
    print(f"report: {out / 'report.html'}")
    return 0


def _cmd_reproduce(args) -> int:
    from .experiments.reproduce import SUITE, recipe_suite, reproduce

    recipe = args.recipes.strip() if args.recipes else None
    full = dict(SUITE) if recipe is None else recipe_suite(recipe)
    suite = full
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in full]
        if unknown:
            raise ValueError(f"unknown problem(s) {unknown} for --only; choose from: {', '.join(full)}.")
        suite = {n: full[n] for n in names}
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"`steps` must be a positive integer, got steps = {args.steps}.")
    args.out = args.out or ("runs/reproduce" if recipe is None else f"runs/reproduce-{recipe}")
    res = reproduce(
        seeds=args.seeds,
        steps=args.steps if recipe is not None else args.steps or 40_000,
        out=args.out,
        recipe=recipe,
        workers=args.jobs,
        overwrite=args.overwrite,
        suite=suite,
        results=args.results or None,
        assignments=args.assignments or [],
        paper_data=args.paper_data,
    )
    print(res["markdown"])
    print(f"total wall time: {res['wall_time_s'] / 60:.1f} min; report: {Path(args.out) / 'report.html'}")
    return 0


def _cmd_diagnose(args) -> int:
    from .report.run_report import render_run

    print(f"report: {render_run(args.run_dir)}")
    return 0


def _cmd_study(args) -> int:
    from .experiments import studies

    values = [float(v) for v in args.values.split(",")] if args.values else None
    common = {
        "seed": args.seed,
        "workers": args.jobs,
        "overwrite": args.overwrite,
        "assignments": args.assignments or [],
    }
    if args.study == "poisson-imbalance":
        kw = {"values": values} if values else {}
        res = studies.poisson_imbalance(
            steps=args.steps or 10_000, out=args.out or "runs/study-poisson-imbalance", **kw, **common
        )
        print(f"{'C':>5} {'imbalance@0':>12} {'median':>12} {'rel. L2':>10}")
        for c, r0, rm, e in zip(
            res["C"], res["ratio_step0"], res["ratio_median"], res["final_error"], strict=True
        ):
            print(f"{c:5g} {r0:12.3e} {rm:12.3e} {e:10.3e}")
        print(
            f"fitted power of C: {res['slope_step0']:.2f} (step 0), "
            f"{res['slope_median']:.2f} (median over training); paper bound: 4"
        )
        out = args.out or "runs/study-poisson-imbalance"
    else:
        kw = {"values": values} if values else {}
        res = studies.stiffness_study(
            steps=args.steps or 40_000,
            every=args.every,
            out=args.out or "runs/study-stiffness",
            **kw,
            **common,
        )
        print(f"{'a2':>4} {'sigma@0':>10} {'max sigma':>10} {'final':>10} {'rel. L2':>10}")
        for row in zip(
            res["a2"],
            res["sigma_step0"],
            res["sigma_max"],
            res["sigma_final"],
            res["final_error"],
            strict=True,
        ):
            print(f"{row[0]:4g} " + " ".join(f"{v:10.3e}" for v in row[1:]))
        out = args.out or "runs/study-stiffness"
    print(f"report: {Path(out) / 'report.html'}")
    return 0


def _cmd_doctor(args) -> int:
    import json

    from .experiments.doctor import default_steps, describe_keys, is_script, load_problem, run_doctor

    problem = None
    ns = argparse.Namespace(**vars(args))
    if is_script(args.target):
        problem = load_problem(args.target)
        ns.problem = "helmholtz"  # the config tree's default problem; the script's Problem replaces it
    else:
        ns.problem = args.target
    ns.steps = args.steps if args.steps is not None else default_steps()
    cfg = _base_config(ns)
    name = problem.name if problem is not None else cfg.problem.name
    out = Path(args.out or f"runs/doctor-{name}-{cfg.recipe}")
    res = run_doctor(cfg, problem, cure=args.cure, out=out, progress=not (args.quiet or args.json))
    if args.json:
        print(json.dumps(res["json"]))
        return 0
    d = res["diagnosis"]
    s = d.summary

    def num(v, fmt=".3e"):
        return format(v, fmt) if isinstance(v, int | float) else "n/a"

    status = "" if s.get("status") == "finished" else f" (status {s.get('status')})"
    print(
        f"doctor {name} ({cfg.recipe}): probe of {d.steps} steps{status}, relative L2 "
        f"{num(s.get('final_error'))}; probe {d.timings['probe_train_s']:.1f} s + diagnostics "
        f"{d.timings['diagnostics_s']:.1f} s"
    )
    print(d.text())
    keys = res["cure_keys"]
    print("proposed cure: " + (describe_keys(keys) if keys else "none needed"))
    c = res["cure"]
    if c is not None and c.get("set"):
        print(
            f"cure ({c['recipe']}), {c['steps']} steps: relative L2 {num(c['error_before'])} -> "
            f"{num(c['error_after'])} ({num(c['improvement'], '.2f')}x lower)"
        )
    print(f"report: {res['report']}")
    return 0


def _add_common(p: argparse.ArgumentParser, *, model: bool = True) -> None:
    p.add_argument("problem", help="problem name (see `pinnsight list`)")
    if model:
        p.add_argument(
            "--recipe",
            help="named preset of the config tree: M1..M4, or a problem's own such as best (default M1)",
        )
        p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, help="optimiser steps (default 40000)")
    p.add_argument(
        "--set",
        dest="assignments",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys (section.key, see `pinnsight config`) or problem parameters, "
        "e.g. problem.a2=2 sampling.batch_size=256 weighting.every=20",
    )
    p.add_argument("--config", help="TOML file of config keys / problem parameters")
    p.add_argument("--x64", action="store_true", help="train in float64")
    p.add_argument("--out", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    _add_restart(p)


def _add_restart(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--restart",
        action="store_true",
        help="start unfinished runs over instead of resuming them (removes their pinnsight "
        "files); finished runs are kept, except by `train`, where it is --overwrite",
    )


def _add_list_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight list``: problems, recipes and the kinds of each config section."""
    p = sub.add_parser("list", help="list problems, recipes and the kinds of each config section")
    p.set_defaults(func=_cmd_list)


def _add_config_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight config``: the whole config tree of a recipe and problem."""
    p = sub.add_parser("config", help="print the whole config tree with defaults and one-line docs")
    p.add_argument("recipe", nargs="?", help="a recipe (M1..M4, or the problem's own, e.g. best)")
    p.add_argument("--problem", default="helmholtz", help="problem (default helmholtz)")
    p.add_argument("--set", dest="assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--config", help="TOML file")
    p.set_defaults(func=_cmd_config)


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight train``: one recipe on one problem, with seed and device options."""
    p = sub.add_parser("train", help="train one model on one problem")
    _add_common(p)
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--devices",
        type=int,
        help="shard each step's points over N devices (run.devices, default 1; with "
        "PINNSIGHT_DISTRIBUTED=1 the devices of all hosts count)",
    )
    p.set_defaults(func=_cmd_train)


def _add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight compare``: several recipes over several seeds, side by side."""
    p = sub.add_parser("compare", help="train M1-M4 and write a side-by-side report")
    _add_common(p, model=False)
    p.add_argument("--models", default="M1,M2,M3,M4", help="comma-separated recipes (default M1,M2,M3,M4)")
    p.add_argument("--recipes", help="comma-separated recipes (same as --models)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default 0)")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="runs side by side (default: 2 or the core count)",
    )
    p.set_defaults(func=_cmd_compare)


def _add_study_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight study``: the paper's Poisson-imbalance and stiffness studies."""
    p = sub.add_parser("study", help="the paper's diagnostic studies (Poisson imbalance, stiffness)")
    p.add_argument("study", choices=["poisson-imbalance", "stiffness"])
    p.add_argument(
        "--values",
        help="C values (poisson-imbalance, default 1,2,4) or a2 values "
        "(stiffness, default 1,2,3,4), comma-separated",
    )
    p.add_argument("--steps", type=int, help="steps per run (default 10000 / 40000)")
    p.add_argument("--every", type=int, default=1000, help="stiffness: steps between σ_max")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--out", help="output folder")
    p.add_argument("--overwrite", action="store_true")
    _add_restart(p)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.set_defaults(func=_cmd_study)


def _add_reproduce_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight reproduce``: the paper's results table, or a recipe's, resumable."""
    p = sub.add_parser("reproduce", help="the paper's results table, or a recipe's (resumable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, help="steps per run (default 40000; --recipes: the recipe's own)")
    p.add_argument(
        "--recipes",
        metavar="NAME",
        help="instead of the paper's table, the table of every built-in problem's own recipe NAME "
        "(e.g. best, see `pinnsight list`) at its own settings, beside the paper's in --results",
    )
    p.add_argument("--only", help="comma-separated subset of: helmholtz,klein_gordon,cavity,burgers")
    p.add_argument("--out", help="output folder (default runs/reproduce, or runs/reproduce-NAME)")
    p.add_argument(
        "--results",
        default="docs/RESULTS.md",
        help="Markdown file whose reproduce block is rewritten ('' to skip)",
    )
    p.add_argument("--set", dest="assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--overwrite", action="store_true", help="retrain finished runs")
    _add_restart(p)
    p.add_argument(
        "--paper-data",
        metavar="DIR",
        help="folder of the paper's reference CSVs for the cavity's paper metric "
        "(or set PINNSIGHT_PAPER_DATA); optional",
    )
    p.set_defaults(func=_cmd_reproduce)


def _add_diagnose_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight diagnose``: render a finished run's diagnostics into its report."""
    p = sub.add_parser("diagnose", help="render a finished run's diagnostics into its report")
    p.add_argument("run_dir")
    p.set_defaults(func=_cmd_diagnose)


def _add_doctor_parser(sub: argparse._SubParsersAction) -> None:
    """``pinnsight doctor``: probe-train a problem or a script's Problem and name the cure."""
    p = sub.add_parser(
        "doctor",
        help="probe-train a PINN and say what fails (imbalance, stiffness, spectral bias, ...) and the cure",
    )
    p.add_argument(
        "target", help="a problem (see `pinnsight list`) or path/to/script.py[:NAME] defining a Problem"
    )
    p.add_argument(
        "--recipe",
        help="named preset of the config tree: M1..M4, or a problem's own such as best (default M1)",
    )
    p.add_argument("--steps", type=int, help="steps of the probe training (default 5000)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--set", dest="assignments", nargs="+", metavar="KEY=VALUE", help="override config keys")
    p.add_argument("--config", help="TOML file of config keys / problem parameters")
    p.add_argument("--x64", action="store_true", help="train in float64")
    p.add_argument(
        "--cure", action="store_true", help="also train the proposed cure (same length) and compare"
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (findings, imbalance, stiffness, ntk)"
    )
    p.add_argument("--out", help="report folder (default runs/doctor-PROBLEM-RECIPE)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_doctor)


def build_parser() -> argparse.ArgumentParser:
    """The ``pinnsight`` argument parser, one subcommand per ``_add_*_parser`` helper."""
    ap = argparse.ArgumentParser(
        prog="pinnsight",
        description="Train PINNs and see their gradient pathologies (Wang, Teng & Perdikaris 2021).",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    for add in (
        _add_list_parser,
        _add_config_parser,
        _add_train_parser,
        _add_compare_parser,
        _add_study_parser,
        _add_reproduce_parser,
        _add_diagnose_parser,
        _add_doctor_parser,
    ):
        add(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    """The command. Called without ``argv`` (the ``pinnsight`` executable) it also sets the
    process up as every training process is: a one-thread XLA client, and SIGINT/SIGTERM
    that stop cleanly (`pinnsight.experiments.process`). With ``PINNSIGHT_DISTRIBUTED=1`` it
    first joins the multi-host cluster (`pinnsight.data_parallel.initialize_distributed`)."""
    if argv is None:
        from .data_parallel import initialize_distributed
        from .experiments.process import install_signal_watcher, one_thread_xla

        install_signal_watcher()
        initialize_distributed()  # before the backends exist; a no-op unless asked for
        one_thread_xla()
    args = build_parser().parse_args(argv)
    if getattr(args, "restart", False) and not args.overwrite:
        # one run: start it over; several (compare, study, reproduce): the unfinished ones only
        args.overwrite = True if args.func is _cmd_train else "unfinished"
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, MemoryError) as err:
        return _error(err, 2)
    except KeyboardInterrupt as err:
        from .interrupt import announce

        why = str(err) or "SIGINT"
        announce(
            f"pinnsight: interrupted by {why}; finished chunks are saved: run the same command "
            "again to resume (--restart starts over)"
        )
        if argv is None:  # the files are written and closed: skip the slow interpreter teardown
            sys.stdout.flush()
            os._exit(130)
        return 130
    except RuntimeError as err:  # DivergenceError and friends
        return _error(err, 1)
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("PINNSIGHT_DEBUG"):
            raise
        return _error(err, 1, f"unexpected {type(err).__name__} (PINNSIGHT_DEBUG=1 shows where): ")


def _error(err: BaseException, code: int, prefix: str = "") -> int:
    text = " ".join(str(err).split()) or type(err).__name__
    print(f"pinnsight: error: {prefix}{text}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
