"""The exercises' rules: the tutorial's stage passes them, the stage before does not, and any
correct way of writing the step passes, whatever it names its variables."""

from __future__ import annotations

import pytest

from nnreally.errors import UsageError
from nnreally.practice.code import Code
from nnreally.practice.exercises import EXERCISES, Exercise, exercise
from nnreally.texts import LANGUAGES, words


def failing(ex: Exercise, source: str) -> list[str]:
    code = Code(source)
    return [key for key, rule in ex.rules if not rule(code)]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.number)
def test_the_stage_passes_its_exercise(ex: Exercise):
    assert failing(ex, ex.stage.source) == []


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.number)
def test_the_stage_before_unchanged_fails(ex: Exercise):
    assert failing(ex, ex.start.source)


def edit(number: str, *pairs: tuple[str, str]) -> str:
    """Stage ``number``'s source with each (old, new) replaced; each old must be there."""
    source = exercise(number).stage.source
    for old, new in pairs:
        assert old in source, old
        source = source.replace(old, new)
    return source


ACCEPTED = {
    "02 other import": edit(
        "02",
        ("import torch.nn.functional as F\n", "from torch.nn.functional import cross_entropy\n"),
        ("loss_func = F.cross_entropy", "loss_func = cross_entropy"),
    ),
    "03 other names": edit(
        "03",
        ("class MnistLogistic(nn.Module)", "class Net(torch.nn.Module)"),
        ("model = MnistLogistic()", "model = Net()"),
        ("for p in model.parameters():", "for param in model.parameters():"),
        ("p -= p.grad * lr", "param -= param.grad * lr"),
    ),
    "04 the layer named otherwise": edit(
        "04",
        ("self.lin = nn.Linear(784, 10)", "self.layer = nn.Linear(784, 10)"),
        ("return self.lin(xb)", "return self.layer(xb)"),
    ),
    "05 another optimizer spelling": edit(
        "05",
        ("from torch import nn, optim\n", "import torch\nfrom torch import nn\n"),
        (
            "optim.SGD(model.parameters(), lr=lr)",
            "torch.optim.SGD(params=model.parameters(), lr=lr)",
        ),
        ("opt.step()", "optimizer.step()"),
        ("opt.zero_grad()", "optimizer.zero_grad()"),
        ("model, opt = get_model()", "model, optimizer = get_model()"),
    ),
    "06 a batch named otherwise": edit(
        "06",
        ("xb, yb = train_ds[i * bs : i * bs + bs]", "xb, yb = train_ds[i * bs : (i + 1) * bs]"),
    ),
    "07 the batch unpacked inside": edit(
        "07",
        ("    for xb, yb in train_dl:\n", "    for batch in train_dl:\n        xb, yb = batch\n"),
    ),
    "08 keywords in another order": edit(
        "08",
        (
            "DataLoader(train_ds, batch_size=bs, shuffle=True)",
            "DataLoader(train_ds, shuffle=True, batch_size=bs)",
        ),
    ),
    "09 torch.relu": edit(
        "09",
        ("import torch.nn.functional as F\n", "import torch\nimport torch.nn.functional as F\n"),
        ("xb = F.relu(self.conv1(xb))", "xb = torch.relu(self.conv1(xb))"),
        ("xb = F.relu(self.conv2(xb))", "xb = torch.relu(self.conv2(xb))"),
        ("xb = F.relu(self.conv3(xb))", "xb = torch.relu(self.conv3(xb))"),
    ),
    "10 Lambda from the library": edit(
        "10",
        (
            "from nnreally.lesson import",
            "from nnreally.layers import Lambda as Lambda\nfrom nnreally.lesson import",
        ),
        ("class Lambda(nn.Module):", "class _Unused:"),
    ),
    "11 WrappedDataLoader from the library": edit(
        "11",
        (
            "from nnreally.train import fit, get_data",
            "from nnreally.train import WrappedDataLoader, fit, get_data",
        ),
        ("class WrappedDataLoader:", "class _Unused:"),
        ("    def __iter__(self):", "    def items(self):"),
    ),
    "12 torch.device": edit(
        "12",
        (
            "dev = get_device()",
            'dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")',
        ),
        ("import torch.nn.functional as F\n", "import torch\nimport torch.nn.functional as F\n"),
    ),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_any_correct_way_of_writing_it_passes(name: str):
    assert failing(exercise(name[:2]), ACCEPTED[name]) == []


REJECTED = {
    "02 F's log_softmax with nll_loss": (
        "no_log_softmax",
        edit(
            "02",
            ("loss_func = F.cross_entropy", "loss_func = F.cross_entropy\nnll = F.nll_loss"),
            ("return xb @ weights + bias", "return F.log_softmax(xb @ weights + bias, -1)"),
        ),
    ),
    "04 a Parameter kept beside the layer": (
        "no_parameter",
        edit(
            "04",
            (
                "self.lin = nn.Linear(784, 10)",
                "self.lin = nn.Linear(784, 10)\n        self.extra = nn.Parameter(torch.zeros(10))",
            ),
        ),
    ),
    "05 the hand update left in": (
        "no_update",
        edit(
            "05",
            (
                "        opt.step()\n",
                "        opt.step()\n        for p in model.parameters():\n"
                "            p.data -= p.grad * lr\n",
            ),
        ),
    ),
    "07 shuffled already": (
        "no_shuffle",
        edit(
            "07",
            (
                "DataLoader(train_ds, batch_size=bs)",
                "DataLoader(train_ds, batch_size=bs, shuffle=True)",
            ),
        ),
    ),
    "05 zero_grad forgotten": ("step", edit("05", ("        opt.zero_grad()\n", ""))),
    "08 the validation loader shuffled": (
        "valid_loader",
        edit(
            "08",
            (
                "DataLoader(valid_ds, batch_size=bs * 2)",
                "DataLoader(valid_ds, batch_size=bs * 2, shuffle=True)",
            ),
        ),
    ),
    "08 model.eval() dropped, which changes nothing for this model": (
        "modes",
        edit("08", ("        model.eval()\n", "")),
    ),
    "08 validation with gradients": (
        "no_grad",
        edit(
            "08",
            (
                "        with torch.no_grad():\n            scores",
                "        if True:\n            scores",
            ),
        ),
    ),
    "09 no momentum": ("momentum", edit("09", (", momentum=0.9", ""))),
    "10 the CNN class kept beside the Sequential": (
        "no_cnn_class",
        edit(
            "10",
            (
                "def preprocess(x):",
                "class MnistCNN(nn.Module):\n    def forward(self, xb):\n"
                "        return xb\n\n\ndef preprocess(x):",
            ),
        ),
    ),
    "11 the model still reshapes": (
        "reshape_moved",
        edit(
            "11", ("model = nn.Sequential(\n", "model = nn.Sequential(\n    Lambda(preprocess),\n")
        ),
    ),
    "03 the weights left as plain tensors": (
        "parameter",
        edit(
            "03",
            (
                "nn.Parameter(torch.randn(784, 10) / math.sqrt(784))",
                "torch.randn(784, 10) / math.sqrt(784)",
            ),
            ("nn.Parameter(torch.zeros(10))", "torch.zeros(10)"),
        ),
    ),
    "12 only the model moved": (
        "batches_to",
        edit(
            "12",
            ("return x.view(-1, 1, 28, 28).to(dev), y.to(dev)", "return x.view(-1, 1, 28, 28), y"),
        ),
    ),
}


@pytest.mark.parametrize("name", REJECTED)
def test_a_step_half_done_fails_the_rule_that_says_what_is_missing(name: str):
    rule, source = REJECTED[name]
    assert failing(exercise(name[:2]), source) == [rule]


def test_exercises_are_found_by_number_and_others_are_one_line():
    assert exercise("5").number == "05"
    for wrong in ("01", "13", "x"):
        with pytest.raises(UsageError, match="the exercises are 02-12"):
            exercise(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.number)
def test_every_exercise_has_its_words(ex: Exercise, lang: str):
    w = words(lang)
    assert w(f"exercise.{ex.number}.task").strip()
    assert w(f"exercise.{ex.number}.section")
    assert 2 <= len(w.list(f"exercise.{ex.number}.hints")) <= 3
    for key, _ in ex.rules:
        assert w(f"exercise.{ex.number}.rules.{key}")
    if not ex.same_numbers:  # a step that changes the numbers says why that can be fine
        assert w(f"exercise.{ex.number}.why")
