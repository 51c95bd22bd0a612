"""The API reference site (mkdocs.yml, docs/): it builds with --strict, renders its math,
and documents every public name of `pinnsight`."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import pinnsight as ps

ROOT = Path(__file__).resolve().parents[1]
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))

# A `::: dotted.path` line of mkdocstrings.
DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$", re.M)


def _is_constant(obj) -> bool:
    """A public value (PROBLEMS, RECIPES, MODELS) rather than a module, class or function."""
    return not (isinstance(obj, types.ModuleType) or inspect.isclass(obj) or callable(obj))


def _own_docstring(name: str, obj) -> str:
    """``obj.__doc__`` unless it is the signature that dataclasses and NamedTuples generate."""
    doc = (obj.__doc__ or "").strip()
    if inspect.isclass(obj) and re.fullmatch(rf"{re.escape(obj.__name__)}\(.*\)", doc, re.S):
        return ""  # auto-generated, e.g. "TrainState(params, opt_state, ...)"
    return doc


def _resolve(path: str):
    """The object a directive names: the longest importable module prefix, then attributes
    (so ``pinnsight.weighting.fixed.fixed`` is the function, not the module of that name)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _documented_by_directive() -> dict[str, list[str]]:
    """Public names of `pinnsight` -> the API pages with a directive for that very object."""
    public = {id(getattr(ps, n)): n for n in ps.__all__ if not _is_constant(getattr(ps, n))}
    found: dict[str, list[str]] = {}
    for page in API_PAGES:
        for path in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            try:
                obj = _resolve(path)
            except (ImportError, AttributeError) as err:
                raise AssertionError(f"{page.name}: `::: {path}` names nothing importable") from err
            name = public.get(id(obj))
            if name is not None and path.rsplit(".", 1)[-1] == name:
                found.setdefault(name, []).append(page.name)
    return found


def _documented_constant(name: str) -> bool:
    """A heading naming `NAME` on an API page, followed by a paragraph of prose."""
    heading = re.compile(rf"^#+ .*`{re.escape(name)}`.*$", re.M)
    for page in API_PAGES:
        text = page.read_text(encoding="utf-8")
        for m in heading.finditer(text):
            rest = text[m.end() :].lstrip("\n")
            first = rest.split("\n\n", 1)[0].strip()
            if first and not first.startswith(("#", ":::", "```", "|")):
                return True
    return False


def test_every_public_name_has_a_docstring():
    missing = [
        n for n in ps.__all__ if not _is_constant(getattr(ps, n)) and not _own_docstring(n, getattr(ps, n))
    ]
    assert not missing, f"public names without a docstring of their own: {missing}"


def test_every_public_name_is_on_an_api_page():
    assert API_PAGES, "docs/api/*.md is missing"
    by_directive = _documented_by_directive()
    missing = []
    for name in ps.__all__:
        if _is_constant(getattr(ps, name)):
            if not _documented_constant(name):
                missing.append(f"{name} (a heading with `{name}` and a paragraph about it)")
        elif name not in by_directive:
            missing.append(f"{name} (a `::: pinnsight.{name}` directive)")
    assert not missing, "not documented on any docs/api/*.md page: " + ", ".join(missing)


# In a string that is not raw, a backslash before one of these letters is an escape: the
# LaTeX of "$\theta$" in a plain docstring reaches the docs as a tab and "heta".
_MANGLED_LATEX = re.compile(r"(?<!\\)(?:\\\\)*\\[abfnrtv][A-Za-z]")


def test_latex_docstrings_are_raw():
    """Docstrings (attribute docstrings included) with LaTeX commands are raw (r-prefixed) strings."""
    bad = []
    for path in sorted((ROOT / "src" / "pinnsight").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                continue
            text = ast.get_source_segment(source, node.value) or ""
            prefix = re.match(r"[A-Za-z]*", text).group(0)
            if "r" not in prefix.lower() and "$" in text and _MANGLED_LATEX.search(text):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "docstrings with LaTeX escapes that need an r prefix: " + ", ".join(bad)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_mkdocs_build_strict(site):
    pages = {p.relative_to(site).parent.as_posix() for p in site.rglob("index.html")}
    expected = {f"api/{p.stem}" for p in API_PAGES} | {"."}
    assert expected <= pages, f"pages missing from the built site: {sorted(expected - pages)}"


def test_math_renders(site):
    """Every $...$ / $$...$$ became an arithmatex span for MathJax: no stray ``$$`` (a display
    equation that is not a block of its own) and no control characters in formulas (a
    docstring with LaTeX that is not a raw string turns ``\\t`` in ``\\theta`` into a tab)."""
    bad = []
    for page in sorted(site.joinpath("api").rglob("index.html")) + [site / "index.html"]:
        html = page.read_text(encoding="utf-8")
        if "$$" in html:
            bad.append(f"{page.relative_to(site)}: unrendered $$")
        for m in re.finditer(r'<(span|div) class="arithmatex">(.*?)</\1>', html, re.S):
            if re.search(r"[\x00-\x08\x09\x0b\x0c\x0e-\x1f]", m.group(2)):
                bad.append(f"{page.relative_to(site)}: control character in {m.group(2)[:60]!r}")
    assert not bad, "\n".join(bad)
