"""Every import runs downhill (docs/model.md, "Layering"), checked on the source with ``ast``.

    foundation  ->  meshing  ->  models, postprocess  ->  studies  ->  benchmarks (and tests)

(a) a package imports only the packages below it (and itself); nothing imports ``studies``
    except ``studies``, ``benchmarks`` and ``tests``;
(b) no project import inside a function body, at any nesting (a cycle is fixed by moving
    code, not hidden in a function);
(c) the geometry and image modules (pure NumPy / SciPy / scikit-image / PoreSpy / gmsh) import
    neither MPI nor the FEniCSx stack, directly or through other modules;
(d) ``dolfinx_solver`` (which must be imported before dolfinx, petsc4py and mpi4py) and the
    stack itself are imported only in ``foundation/stack.py``; everything else imports the
    stack from there.

The checker is a plain function of (module name, source); ``test_the_checker_finds_*``
feeds it sources that break each rule, so a checker that cannot fail would fail here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("foundation", "meshing", "models", "postprocess", "studies", "benchmarks", "tests")
ALLOWED = {
    "foundation": {"foundation"},
    "meshing": {"foundation", "meshing"},
    "models": {"foundation", "meshing", "models"},
    "postprocess": {"foundation", "meshing", "postprocess"},
    "studies": {"foundation", "meshing", "models", "postprocess", "studies"},
    "benchmarks": set(PACKAGES),
    "tests": set(PACKAGES),
}
"""Project packages each package may import."""
STACK = {"dolfinx", "dolfinx_solver", "petsc4py", "mpi4py", "slepc4py", "basix"}
STACK_MODULE = "foundation.stack"
PURE = [
    # geometry and image code: pure NumPy / SciPy / scikit-image / PoreSpy / gmsh, no MPI
    "meshing.cbd",
    "meshing.clearance",
    "meshing.connectivity",
    "meshing.gmsh_tools",
    "meshing.hdf5_reader",
    "meshing.grains",
    "meshing.image_mesh",
    "meshing.image_volume",
    "meshing.label_cleanup",
    "meshing.occ_packing",
    "meshing.options",
    "meshing.packing",
    "meshing.packing_spec",
    "meshing.particle_share",
    "meshing.particles",
    "meshing.phantom",
    "meshing.phase_image",
    "meshing.placement",
    "meshing.records",
    "meshing.relaxation",
    "meshing.sanitise",
    "meshing.segmentation",
    "meshing.separator_slab",
    "meshing.surface_nets",
    "meshing.tags",
    "meshing.tetmesh",
    "meshing.union_volume",
    "meshing.volume_io",
    "meshing.voxel_mesh",
    "meshing.voxelize",
    # and what they may use of the foundation
    "foundation.errors",
    "foundation.files",
    "foundation.progress",
    "foundation.schema",
]
"""Modules that must not import MPI or the FEniCSx stack (rule c)."""


@dataclass(frozen=True)
class Import:
    line: int
    module: str
    """The imported module, relative imports resolved (``from a import b`` gives ``a.b``
    when ``b`` may be a module, and ``a``)."""
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(module: str, source: str, is_package: bool = False) -> list[Import]:
    """Every import statement of a module, with relative imports resolved."""
    found: list[Import] = []
    here = module.split(".") if is_package else module.split(".")[:-1]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(child.lineno, a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = here[: len(here) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.append(Import(child.lineno, base, in_function))
                found.extend(Import(child.lineno, f"{base}.{a.name}", in_function) for a in child.names)
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Everything in one module that breaks the rules (a), (b), (d); rule (c) for PURE."""
    package = module.split(".")[0]
    out = []
    for imp in imports(module, source, is_package):
        root = imp.module.split(".")[0]
        where = f"{module}:{imp.line}"
        if root in ALLOWED and root not in ALLOWED[package]:
            out.append(f"{where}: {package} imports {imp.module} (allowed: {', '.join(sorted(ALLOWED[package]))})")
        if root in ALLOWED and imp.in_function:
            out.append(f"{where}: project import of {imp.module} inside a function (move it to the top)")
        if root in STACK and module != STACK_MODULE:
            out.append(f"{where}: imports {imp.module} directly (import the stack from {STACK_MODULE})")
        if module in PURE and (root in STACK or imp.module == STACK_MODULE):
            out.append(f"{where}: {module} is geometry/image code and must not import {imp.module}")
    return out


def project_modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found.append((module_name(path), path))
    return found


def test_every_import_runs_downhill():
    problems = []
    for module, path in project_modules():
        problems += violations(module, path.read_text(), is_package=path.name == "__init__.py")
    assert not problems, "\n".join(problems)


def test_the_pure_modules_exist_and_import_no_mpi():
    """Rule (c) beyond direct imports: importing every pure module loads neither MPI nor the stack."""
    modules = {m for m, _ in project_modules()}
    assert set(PURE) <= modules, f"listed but missing: {sorted(set(PURE) - modules)}"
    script = (
        "import importlib, sys\n"
        f"for m in {PURE!r}: importlib.import_module(m)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(STACK)!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"importing the pure modules loaded {proc.stdout.strip()}"


# ----------------------------------------------------------------------------- the checker can fail
@pytest.mark.parametrize(
    ("module", "source", "message"),
    [
        ("foundation.files", "from models.parameters import FARADAY\n", "foundation imports models.parameters"),
        ("meshing.build", "from models.mesh_input import load_mesh\n", "meshing imports models.mesh_input"),
        ("meshing.build", "import postprocess.metrics\n", "meshing imports postprocess.metrics"),
        ("models.runner", "from studies.case import CCStep\n", "models imports studies.case"),
        ("postprocess.metrics", "from models import checkpoint\n", "postprocess imports models"),
        ("models.reference.kinetics", "from ...studies import app\n", "models imports studies.app"),
        ("models.runner", "def f():\n    if True:\n        from models.meshes import sphere\n", "inside a function"),
        ("tests.test_x", "class T:\n    def f(self):\n        import meshing.tags\n", "inside a function"),
        ("models.solver", "import dolfinx_solver\n", "imports dolfinx_solver directly"),
        ("models.solver", "from mpi4py import MPI\n", "imports mpi4py directly"),
        ("meshing.packing", "from foundation.stack import MPI\n", "must not import foundation.stack"),
        ("meshing.voxelize", "from foundation import stack\n", "must not import foundation.stack"),
    ],
)
def test_the_checker_finds_a_violation(module, source, message):
    found = violations(module, source)
    assert any(message in v for v in found), found


def test_the_checker_accepts_downhill_imports():
    source = (
        "from foundation.errors import InputError\n"
        "from meshing.tags import FacetTag\n"
        "from .records import Packing\n"
        "def f():\n"
        "    import numpy  # not a project import\n"
    )
    assert violations("models.records", source) == []
    studies = "from models.runner import run_simulation\nfrom postprocess import metrics\n"
    assert violations("studies.app", studies) == []
    assert violations(STACK_MODULE, "import dolfinx_solver\nimport dolfinx\n") == []
    assert [i.module for i in imports("models.reference", "from ..parameters import FARADAY\n", is_package=True)] == [
        "models.parameters", "models.parameters.FARADAY"]
