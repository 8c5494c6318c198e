"""A learner's file read as code: what it imports, defines, calls and loops over.

The rules of an exercise ask questions of this, not of the text: ``F.cross_entropy``,
``torch.nn.functional.cross_entropy`` and ``from torch.nn.functional import cross_entropy as
ce`` are the same name here (``torch.nn.functional.cross_entropy``), whatever the learner
called their variables, and a comment or a string that mentions a name is not a use of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cached_property


class Code:
    """The parsed file, with every imported name resolved to its full dotted name."""

    def __init__(self, source: str, filename: str = "<practice>") -> None:
        self.tree = ast.parse(source, filename)  # a SyntaxError is the caller's to report
        self.aliases: dict[str, str] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    # import torch.nn.functional as F binds F; import torch.nn binds torch
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def dotted(self, node: ast.AST) -> str | None:
        """``F.cross_entropy`` as ``torch.nn.functional.cross_entropy``; a name that is not
        imported stays as written (``model.parameters``); None for anything else."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def nodes(self, kind: type | tuple[type, ...]) -> Iterator:
        return (n for n in ast.walk(self.tree) if isinstance(n, kind))

    @cached_property
    def names_used(self) -> set[str]:
        """Every full name the code reads (``torch.nn.Linear``, ``torch.nn``, ``model.lin``)."""
        used = set()
        for node in self.nodes((ast.Name, ast.Attribute)):
            if isinstance(getattr(node, "ctx", None), ast.Load):
                name = self.dotted(node)
                if name is not None:
                    used.add(name)
        return used

    def uses(self, *names: str) -> bool:
        """Whether the code reads any of ``names`` (full dotted names)."""
        return any(name in self.names_used for name in names)

    def calls(self, *names: str) -> list[ast.Call]:
        """The calls of any of ``names`` (full dotted names)."""
        return [c for c in self.nodes(ast.Call) if self.dotted(c.func) in names]

    def calls_under(self, prefix: str) -> list[ast.Call]:
        """The calls of anything in the module ``prefix`` (``torch.optim``)."""
        return [c for c in self.nodes(ast.Call) if (self.dotted(c.func) or "").startswith(prefix)]

    def method_calls(self, method: str) -> list[ast.Call]:
        """Calls of a method named ``method`` on anything: ``opt.step()``, ``self.opt.step()``."""
        return [
            c
            for c in self.nodes(ast.Call)
            if isinstance(c.func, ast.Attribute) and c.func.attr == method
        ]

    @cached_property
    def functions(self) -> dict[str, ast.FunctionDef]:
        return {f.name: f for f in self.nodes(ast.FunctionDef)}

    @cached_property
    def classes(self) -> dict[str, ast.ClassDef]:
        return {c.name: c for c in self.nodes(ast.ClassDef)}

    def subclasses(self, base: str) -> list[ast.ClassDef]:
        """The classes whose bases include ``base`` (a full dotted name)."""
        return [c for c in self.classes.values() if any(self.dotted(b) == base for b in c.bases)]

    def called_by_name(self, name: str) -> bool:
        """Whether a function or class ``name`` defined or imported here is called."""
        return any(isinstance(c.func, ast.Name) and c.func.id == name for c in self.nodes(ast.Call))

    def bound_to(self, *callees: str) -> set[str]:
        """The names assigned the result of calling any of ``callees``:
        ``train_dl = DataLoader(...)`` binds ``train_dl``; ``a, b = get_data(...)`` binds both."""
        bound = set()
        for node in self.nodes(ast.Assign):
            if isinstance(node.value, ast.Call) and self.dotted(node.value.func) in callees:
                for target in node.targets:
                    bound.update(_names(target))
        return bound

    def keyword(self, call: ast.Call, name: str) -> ast.expr | None:
        return next((k.value for k in call.keywords if k.arg == name), None)

    def loops(self) -> list[ast.For]:
        return list(self.nodes(ast.For))

    def sliced(self, names: set[str], within: ast.AST | None = None) -> list[ast.Subscript]:
        """``x[a:b]`` where ``x`` is one of ``names``, in the whole file or under ``within``."""
        found = []
        for node in ast.walk(within or self.tree):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id in names
                and isinstance(node.slice, ast.Slice)
            ):
                found.append(node)
        return found

    def hand_updates(self) -> list[ast.AST]:
        """Parameter updates written by hand: ``p -= p.grad * lr``, ``w.data.sub_(w.grad)``,
        ``w = w - lr * w.grad``, ``p.copy_(p - lr * p.grad)``: anything that writes to a
        tensor a value computed from a ``.grad``."""
        found: list[ast.AST] = []
        for node in self.nodes((ast.AugAssign, ast.Assign)):
            if _is_update(node):
                found.append(node)
        for call in self.nodes(ast.Call):
            func = call.func
            values = [*call.args, *(k.value for k in call.keywords)]
            in_place = isinstance(func, ast.Attribute) and func.attr in IN_PLACE_UPDATES
            if in_place and any(_reads_grad(a) for a in values):
                found.append(call)
        return found


IN_PLACE_UPDATES = {"sub_", "add_", "copy_", "addcmul_", "addcdiv_", "mul_"}


def _names(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _names(element)


def _reads_grad(node: ast.AST | None) -> bool:
    return node is not None and any(
        isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node)
    )


def _is_update(node: ast.AugAssign | ast.Assign) -> bool:
    """A value computed from a gradient, written anywhere but to a gradient: not ``p.grad =
    None`` (clearing it), nor ``g = p.grad`` (reading it)."""
    targets = [node.target] if isinstance(node, ast.AugAssign) else node.targets
    if all(isinstance(t, ast.Attribute) and t.attr == "grad" for t in targets):
        return False
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute):
        return False
    return _reads_grad(node.value)
