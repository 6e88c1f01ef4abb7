"""`import dolfinx_solver` must precede dolfinx/petsc4py/mpi4py: done once, in models/stack.py.

Every other project module must get the stack through `models.stack` (imported before any
dolfinx/petsc4py/mpi4py import in that module); geometry and image code must not touch MPI.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["meshing", "models", "postprocess", "studies", "tests", "benchmarks"]
STACK = {"dolfinx", "petsc4py", "mpi4py", "slepc4py", "basix", "dolfinx_solver"}


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_stack_is_imported_through_models_stack():
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == "models/stack.py":
                continue
            tree = ast.parse(path.read_text(), filename=rel)
            for lineno, module in sorted(_imports(tree)):
                root = module.split(".")[0]
                if root == "dolfinx_solver":
                    offenders.append(f"{rel}:{lineno}: imports dolfinx_solver (only models/stack.py may)")
                elif root in STACK:
                    stack_lines = [n for n, m in _imports(tree) if m == "models.stack" or m.startswith("models.stack")]
                    if not stack_lines or min(stack_lines) > lineno:
                        offenders.append(f"{rel}:{lineno}: imports {module} without importing models.stack first")
    assert not offenders, "\n".join(offenders)
