"""registry: the stage files found and described, and what the stages wrote for later ones
(``LIBRARY``) held to the stages' own code."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from nnreally.registry import LIBRARY, all_stages, find


def _bare(node: ast.AST) -> str:
    """A definition without its docstrings and type hints: the code that runs."""
    node = ast.parse(ast.unparse(node))  # a copy
    for child in ast.walk(node):
        if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
            first = child.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                child.body = child.body[1:] or [ast.Pass()]
        if isinstance(child, ast.FunctionDef):
            child.returns = None
            for arg in [*child.args.args, *child.args.kwonlyargs]:
                arg.annotation = None
    return ast.dump(node)


def _defined_in(source: str, name: str) -> ast.AST:
    found = [
        node
        for node in ast.parse(source).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name
    ]
    assert len(found) == 1, f"the stage should define {name} once"
    return found[0]


@pytest.mark.parametrize("name", list(LIBRARY))
def test_the_library_holds_what_the_stage_wrote(name: str):
    """d2l's "save" pattern: the library's copy is the stage's code, hints and docstrings aside."""
    module_name, number = LIBRARY[name]
    library = ast.parse(inspect.getsource(getattr(importlib.import_module(module_name), name)))
    assert _bare(library.body[0]) == _bare(_defined_in(find(number).source, name))


def test_the_tie_fails_when_the_code_differs():
    stage = _defined_in(find("08").source, "loss_batch")
    edited = ast.parse(ast.unparse(stage).replace("len(xb)", "xb.shape[0]")).body[0]
    assert _bare(edited) != _bare(stage)


def test_stages_import_only_what_earlier_stages_wrote():
    for stage in all_stages():
        for node in ast.parse(stage.source).body:
            if isinstance(node, ast.ImportFrom) and node.module in (
                "nnreally.train",
                "nnreally.layers",
            ):
                for alias in node.names:
                    assert alias.name in LIBRARY, f"{stage.number} imports {alias.name}"
                    assert LIBRARY[alias.name][1] < stage.number
