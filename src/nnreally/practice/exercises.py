"""The exercises: exercise NN asks for the refactoring that turns stage NN-1 into stage NN.

Each has its rules (questions asked of the learner's code, ``code.Code``), whether the step
keeps the reference's numbers to the last digit, and the tutorial's section it comes from. Its
words (the task, one sentence per rule, the hints) are in the catalogs, under
``exercise.NN``, in both languages.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from nnreally.errors import UsageError
from nnreally.practice.code import Code
from nnreally.registry import SECTIONS, TUTORIAL, Stage, find
from nnreally.texts import SOURCE

MODULE = "torch.nn.Module"
DATASET = "torch.utils.data.TensorDataset"
LOADER = "torch.utils.data.DataLoader"
CONV = "torch.nn.Conv2d"
NO_GRAD = "torch.no_grad"
TIME_LIMIT = 60.0  # seconds a run may take before it counts as hanging (the stages take 1-3)

Rule = Callable[[Code], bool]


@dataclass(frozen=True)
class Exercise:
    number: str  # "05": the stage the learner's file must become
    rules: tuple[tuple[str, Rule], ...]  # (key of its sentence, the question)
    same_numbers: bool  # the step keeps the computation: the history must equal the stage's

    @property
    def stage(self) -> Stage:
        return find(self.number)

    @property
    def start(self) -> Stage:
        """The stage the learner starts from."""
        base = self.stage.base
        assert base is not None  # exercises start at 02
        return base

    @property
    def link(self) -> str:
        """The tutorial's section this step comes from (stage 08's first, "Add validation")."""
        return f"{TUTORIAL}#{SECTIONS[self.number][0][0]}"

    def file_name(self) -> str:
        return self.stage.path.name

    def commands(self, lang: str = SOURCE) -> str:
        """How to start and check it, as the book and the notebooks show it."""
        flag = "" if lang == SOURCE else f" --lang {lang}"
        return "\n".join(
            f"python -m nnreally.stages {command} {self.number}{flag}"
            for command in ("practice", "check")
        )


# --- the questions, shared by several exercises ----------------------------------------


def _calls_method(*methods: str) -> Rule:
    return lambda code: all(code.method_calls(m) for m in methods)


def _no_hand_update(code: Code) -> bool:
    return not code.hand_updates()


def _optimizer_on_parameters(code: Code) -> bool:
    def on_parameters(call: ast.Call) -> bool:
        first = call.args[0] if call.args else code.keyword(call, "params")
        return any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "parameters"
            for n in ast.walk(first or ast.Constant(None))
        )

    return any(on_parameters(c) for c in code.calls_under("torch.optim."))


def _loaders(code: Code) -> list[ast.Call]:
    return code.calls(LOADER)


def _shuffles(code: Code, call: ast.Call) -> bool:
    value = code.keyword(call, "shuffle")
    return isinstance(value, ast.Constant) and bool(value.value)


def _loop_over_loader(code: Code) -> bool:
    """A ``for xb, yb in train_dl`` (or over ``DataLoader(...)`` itself)."""
    loaders = code.bound_to(LOADER) | code.bound_to("get_data")
    for loop in code.loops():
        it = loop.iter
        if isinstance(it, ast.Name) and it.id in loaders:
            return True
        if isinstance(it, ast.Call) and code.dotted(it.func) == LOADER:
            return True
    return False


def _no_manual_slicing(code: Code) -> bool:
    """No loop cuts its batches out of the tensors or the data set by index any more."""
    sliced = code.bound_to("nnreally.lesson.load_data") | code.bound_to(DATASET)
    return not any(code.sliced(sliced, loop) for loop in code.loops())


def _uses_lambda_layer(code: Code) -> bool:
    """A ``Lambda`` layer (defined here as an ``nn.Module`` or imported) inside the Sequential."""
    names = {c.name for c in code.subclasses(MODULE) if c.name == "Lambda"}
    names |= {k for k, v in code.aliases.items() if v.endswith(".Lambda")}
    for seq in code.calls("torch.nn.Sequential"):
        for arg in seq.args:
            if (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Name)
                and arg.func.id in names
            ):
                return True
    return False


def _model_reshapes_nothing(code: Code) -> bool:
    """The Sequential starts with a layer, not a ``Lambda(preprocess)``: the loader reshapes."""
    for seq in code.calls("torch.nn.Sequential"):
        first = seq.args[0] if seq.args else None
        named = isinstance(first, ast.Call) and isinstance(first.func, ast.Name)
        if (
            named
            and first.func.id == "Lambda"
            and any(isinstance(a, ast.Name) and a.id == "preprocess" for a in first.args)
        ):
            return False
    return bool(code.calls("torch.nn.Sequential"))


def _wraps_loaders(code: Code) -> bool:
    """Both loaders are wrapped: a class with ``__iter__`` (or the library's
    ``WrappedDataLoader``) is called at least twice."""
    wrappers = {
        c.name
        for c in code.classes.values()
        if any(isinstance(f, ast.FunctionDef) and f.name == "__iter__" for f in c.body)
    }
    wrappers |= {k for k, v in code.aliases.items() if v.endswith(".WrappedDataLoader")}
    calls = [
        c for c in code.nodes(ast.Call) if isinstance(c.func, ast.Name) and c.func.id in wrappers
    ]
    return len(calls) >= 2


def _device_names(code: Code) -> set[str]:
    return code.bound_to("torch.device", "nnreally.lesson.get_device")


def _model_moved(code: Code) -> bool:
    devices = _device_names(code)
    return any(
        isinstance(c.func.value, ast.Name)
        and c.args
        and isinstance(c.args[0], ast.Name)
        and c.args[0].id in devices
        for c in code.method_calls("to")
        if isinstance(c.func, ast.Attribute)
    ) and bool(devices)


def _batches_moved(code: Code) -> bool:
    """``.to(dev)`` inside a function: the batches move as the loader hands them out."""
    devices = _device_names(code)
    for function in code.functions.values():
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "to"
                and any(isinstance(a, ast.Name) and a.id in devices for a in node.args)
            ):
                return True
    return False


EXERCISES = (
    Exercise(
        "02",
        (
            ("cross_entropy", lambda c: c.uses("torch.nn.functional.cross_entropy")),
            (
                "no_log_softmax",
                lambda c: (
                    not ({"log_softmax", "nll"} & set(c.functions))
                    and not c.uses(
                        "torch.nn.functional.log_softmax", "torch.nn.functional.nll_loss"
                    )
                ),
            ),
        ),
        same_numbers=True,
    ),
    Exercise(
        "03",
        (
            ("module", lambda c: bool(c.subclasses(MODULE))),
            ("parameter", lambda c: c.uses("torch.nn.Parameter")),
            ("parameters", lambda c: bool(c.method_calls("parameters"))),
            ("zero_grad", _calls_method("zero_grad")),
            ("fit", lambda c: "fit" in c.functions and c.called_by_name("fit")),
        ),
        same_numbers=True,
    ),
    Exercise(
        "04",
        (
            ("linear", lambda c: c.uses("torch.nn.Linear")),
            ("no_parameter", lambda c: not c.uses("torch.nn.Parameter")),
        ),
        same_numbers=False,
    ),
    Exercise(
        "05",
        (
            ("optimizer", _optimizer_on_parameters),
            ("step", _calls_method("step", "zero_grad")),
            ("no_update", _no_hand_update),
        ),
        same_numbers=True,
    ),
    Exercise(
        "06",
        (
            ("dataset", lambda c: bool(c.calls(DATASET))),
            (
                "slices",
                lambda c: any(c.sliced(c.bound_to(DATASET), loop) for loop in c.loops()),
            ),
            (
                "no_tensor_slices",
                lambda c: (
                    not any(
                        c.sliced(c.bound_to("nnreally.lesson.load_data"), loop)
                        for loop in c.loops()
                    )
                ),
            ),
        ),
        same_numbers=True,
    ),
    Exercise(
        "07",
        (
            ("loader", lambda c: bool(_loaders(c))),
            ("loop", _loop_over_loader),
            ("no_slices", _no_manual_slicing),
            ("no_shuffle", lambda c: not any(_shuffles(c, d) for d in _loaders(c))),
        ),
        same_numbers=True,
    ),
    Exercise(
        "08",
        (
            ("shuffled", lambda c: any(_shuffles(c, d) for d in _loaders(c))),
            ("valid_loader", lambda c: any(not _shuffles(c, d) for d in _loaders(c))),
            ("modes", _calls_method("train", "eval")),
            ("no_grad", lambda c: c.uses(NO_GRAD)),
            ("functions", lambda c: {"loss_batch", "fit", "get_data"} <= set(c.functions)),
        ),
        same_numbers=False,
    ),
    Exercise(
        "09",
        (
            ("convs", lambda c: len(c.calls(CONV)) >= 3),
            ("relu", lambda c: c.uses("torch.nn.functional.relu", "torch.nn.ReLU", "torch.relu")),
            (
                "pool",
                lambda c: c.uses(
                    "torch.nn.functional.avg_pool2d",
                    "torch.nn.AvgPool2d",
                    "torch.nn.AdaptiveAvgPool2d",
                    "torch.nn.functional.adaptive_avg_pool2d",
                ),
            ),
            (
                "momentum",
                lambda c: any(c.keyword(o, "momentum") for o in c.calls_under("torch.optim.")),
            ),
        ),
        same_numbers=False,
    ),
    Exercise(
        "10",
        (
            ("sequential", lambda c: bool(c.calls("torch.nn.Sequential"))),
            ("lambda", _uses_lambda_layer),
            (
                "no_cnn_class",
                lambda c: (
                    not any(
                        "forward" in _methods(k) and k.name != "Lambda"
                        for k in c.subclasses(MODULE)
                    )
                ),
            ),
        ),
        same_numbers=True,
    ),
    Exercise(
        "11",
        (
            ("wrapped", _wraps_loaders),
            ("reshape_moved", _model_reshapes_nothing),
            ("adaptive", lambda c: c.uses("torch.nn.AdaptiveAvgPool2d")),
        ),
        same_numbers=False,
    ),
    Exercise(
        "12",
        (
            ("device", lambda c: bool(_device_names(c))),
            ("model_to", _model_moved),
            ("batches_to", _batches_moved),
        ),
        same_numbers=True,
    ),
)


def _methods(cls: ast.ClassDef) -> set[str]:
    return {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}


def making(stage: Stage) -> Exercise | None:
    """The exercise whose solution is ``stage`` (none for 01, 13 and 14)."""
    return next((ex for ex in EXERCISES if ex.number == stage.number), None)


def exercise(number: str) -> Exercise:
    """Exercise ``number`` ("5" and "05" both work)."""
    key = number.strip().zfill(2)
    for ex in EXERCISES:
        if ex.number == key:
            return ex
    raise UsageError(
        f"there is no exercise {number!r}: the exercises are "
        f"{EXERCISES[0].number}-{EXERCISES[-1].number} (each turns stage NN-1 into stage NN)"
    )
