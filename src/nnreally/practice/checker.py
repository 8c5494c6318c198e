"""The checker: run a learner's file as the stage it should become and say what holds.

One check after another, as a learner reads them, detail stopping at the first that fails:

1. **it runs**: through the runner, as every stage does, seeded, on the CPU with one thread
   and a few thousand built-in digits; an error is shown as the learner's (their file, line
   and message, the traceback trimmed to their file), and a file that runs past a bound is
   stopped and said so;
2. **the refactoring is there**: the exercise's rules, asked of the code (``code.Code``);
3. **it trains**: the validation loss has come down at least half way from chance
   (ln 10 = 2.303, a model that guesses) to where the reference stage ends on the same data;
4. **the numbers**: where the step keeps the computation, the learner's history must equal
   the reference's to the last digit, at the seed shown and at a second seed and data size
   the learner is not told; where it changes them by design, how far they are, and why.
"""

from __future__ import annotations

import _thread
import contextlib
import io
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import torch

from nnreally.data import Data, load_digits
from nnreally.data.folder import VARIABLE as DATA_VARIABLE
from nnreally.errors import RunError, UsageError
from nnreally.options import Output, Training
from nnreally.practice.code import Code
from nnreally.practice.exercises import TIME_LIMIT, Exercise
from nnreally.recording import import_optimizers
from nnreally.registry import Stage
from nnreally.run import CHANCE, Run
from nnreally.runner import run_stage
from nnreally.texts import words

N_TRAIN, N_VALID = 8_000, 1_000  # enough for the CNN stages to leave chance in their 2 epochs
SHOWN_SEED = 0
# The second run: another seed and a training set that ends in a short batch. Not printed:
# a file that prints the reference's numbers passes the first run and fails this one.
HIDDEN_SEED, HIDDEN_TRAIN = 2019, 6_500
PASS, FAIL, SKIP, NOTE = "pass", "fail", "skip", "note"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: ``outcome`` is pass, fail, skip (not reached) or note (the
    numbers of a step that changes them by design: said, not judged)."""

    name: str  # runs, rule:<key>, trains, numbers
    outcome: str
    message: str
    detail: str = ""  # the trimmed traceback, the learner's output: shown under a failure


@dataclass(frozen=True)
class Result:
    exercise: str
    file: Path
    checks: tuple[Check, ...]
    seconds: float
    lang: str = "en"

    @property
    def passed(self) -> bool:
        return all(c.outcome in (PASS, NOTE) for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {
            "exercise": self.exercise,
            "file": str(self.file),
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "checks": [
                {"check": c.name, "outcome": c.outcome, "message": c.message} for c in self.checks
            ],
        }

    def lines(self) -> list[str]:
        w = words(self.lang)
        marks = {PASS: "✓", FAIL: "✗", SKIP: "·", NOTE: "~"}
        out = [w("practice.checking", number=self.exercise, file=_shown(self.file))]
        for c in self.checks:
            out.append(f"{marks[c.outcome]} {c.message}")
            if c.outcome == FAIL and c.detail:
                out.extend(f"    {line}" for line in c.detail.rstrip().splitlines())
        verdict = "practice.passed" if self.passed else "practice.failed"
        out.append(w(verdict, number=self.exercise, seconds=f"{self.seconds:.1f}"))
        return out


def _shown(path: Path) -> Path:
    """``path`` as the learner would type it: relative to where they are, when it is below."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


@dataclass
class _Attempt:
    run: Run | None = None
    error: Check | None = None
    output: str = ""
    seconds: float = 0.0


@cache
def checker_data() -> Data:
    """The checker's digits, made once per process (about a second). Kept in memory unless
    ``$NNREALLY_DATA`` names a data folder: practice writes nowhere but the practice folder."""
    folder = os.environ.get(DATA_VARIABLE) or None
    return load_digits(folder and Path(folder), n_train=N_TRAIN, n_valid=N_VALID)


def check(
    ex: Exercise,
    path: Path,
    lang: str = "en",
    time_limit: float = TIME_LIMIT,
    data: Data | None = None,
) -> Result:
    """Check the learner's ``path`` against exercise ``ex``."""
    w = words(lang)
    started = time.perf_counter()
    path = Path(path).resolve()
    if not path.is_file():
        raise UsageError(
            f"{path}: no such file (python -m nnreally.stages practice {ex.number} writes it)"
        )
    data = data or checker_data()
    shown, hidden = (SHOWN_SEED, data), (HIDDEN_SEED, data.head(HIDDEN_TRAIN))
    checks: list[Check] = []

    def finish() -> Result:
        names = ["runs", *(f"rule:{k}" for k, _ in ex.rules), "trains", "numbers"]
        done = {c.name for c in checks}
        skipped = [
            Check(n, SKIP, w("practice.skipped", what=_what(w, ex, n)))
            for n in names
            if n not in done
        ]
        return Result(ex.number, path, (*checks, *skipped), time.perf_counter() - started, lang)

    source = path.read_text(encoding="utf-8")
    try:
        code = Code(source, str(path))
    except SyntaxError as e:
        checks.append(
            Check(
                "runs",
                FAIL,
                w("practice.syntax", line=e.lineno or "?", error=e.msg),
                _syntax_detail(e),
            )
        )
        return finish()
    stage = Stage(ex.number, ex.stage.name, path)
    mine = _attempt(stage, *shown, lang, time_limit)
    if mine.error:
        checks.append(mine.error)
        return finish()
    checks.append(
        Check(
            "runs",
            PASS,
            w("practice.runs", seconds=f"{mine.seconds:.1f}", train=f"{len(data.x_train):,}"),
        )
    )
    for key, rule in ex.rules:
        ok = _holds(rule, code)
        checks.append(
            Check(
                f"rule:{key}",
                PASS if ok else FAIL,
                w(f"exercise.{ex.number}.rules.{key}"),
                "" if ok else w("practice.hint_exists", number=ex.number),
            )
        )
        if not ok:
            return finish()
    reference = _reference(ex, *shown)
    if not mine.run or not mine.run.history:
        checks.append(Check("trains", FAIL, w("practice.no_epoch"), mine.output))
        return finish()
    target = reference.history[-1].valid_loss
    bar = target + (CHANCE - target) / 2
    loss = mine.run.history[-1].valid_loss
    trains = loss < bar
    checks.append(
        Check(
            "trains",
            PASS if trains else FAIL,
            w(
                "practice.trains" if trains else "practice.no_training",
                loss=f"{loss:.4f}",
                bar=f"{bar:.4f}",
                number=ex.number,
                reference=f"{target:.4f}",
            ),
            "" if trains else w("practice.hint_exists", number=ex.number),
        )
    )
    if not trains:
        return finish()
    checks.append(_numbers(ex, mine.run, reference, hidden, lang, time_limit, stage))
    return finish()


def _what(w, ex: Exercise, name: str) -> str:
    if name.startswith("rule:"):
        return w(f"exercise.{ex.number}.rules.{name[5:]}")
    return w(f"practice.check_{name}")


def _holds(rule, code: Code) -> bool:
    try:
        return bool(rule(code))
    except (AttributeError, IndexError, TypeError):  # an unusual shape of code: not found
        return False


def _numbers(ex, mine: Run, reference: Run, hidden, lang, time_limit, stage) -> Check:
    w = words(lang)
    first = _first_difference(mine, reference)
    if not ex.same_numbers:
        if first is None:
            return Check("numbers", NOTE, w("practice.identical", number=ex.number))
        a, b = mine.history[-1].valid_loss, reference.history[-1].valid_loss
        return Check(
            "numbers",
            NOTE,
            w(
                "practice.differs",
                number=ex.number,
                mine=f"{a:.4f}",
                reference=f"{b:.4f}",
                why=w(f"exercise.{ex.number}.why"),
            ),
        )
    if first is not None:
        return Check(
            "numbers",
            FAIL,
            w("practice.not_same", number=ex.number, where=first),
            w("practice.same_why", number=ex.number),
        )
    again = _attempt(stage, *hidden, lang, time_limit)
    if again.error:
        return replace(again.error, name="numbers")
    if _first_difference(again.run, _reference(ex, *hidden)) is not None:
        return Check(
            "numbers",
            FAIL,
            w("practice.not_same_hidden", number=ex.number),
            w("practice.same_why", number=ex.number),
        )
    return Check("numbers", PASS, w("practice.same", number=ex.number))


def _first_difference(mine: Run | None, reference: Run) -> str | None:
    """Where ``mine`` first differs from ``reference``: ``epoch 2, valid loss 0.6518 (stage's
    0.6448)``; None when every batch loss and every epoch's figures are equal."""
    if mine is None:
        return "-"
    for a, b in zip(mine.history, reference.history, strict=False):
        for name in ("train_loss", "valid_loss", "valid_acc"):
            x, y = getattr(a, name), getattr(b, name)
            if x != y:
                return f"epoch {a.epoch}, {name.replace('_', ' ')} {x:.6g} / {y:.6g}"
    if len(mine.history) != len(reference.history):
        return f"{len(mine.history)} / {len(reference.history)} epochs"
    for i, (x, y) in enumerate(zip(mine.batch_losses, reference.batch_losses, strict=False), 1):
        if x != y:
            return f"batch {i}, loss {x:.6g} / {y:.6g}"
    return None


_references: dict[tuple, Run] = {}


def _reference(ex: Exercise, seed: int, data: Data) -> Run:
    """The reference stage's run on the same data and seed (run once per process)."""
    key = (ex.number, seed, len(data.x_train), id(data.x_train.untyped_storage()))
    if key not in _references:
        attempt = _attempt(ex.stage, seed, data, "en", math.inf)
        if attempt.run is None:  # the reference stages are tested; this would be a bug
            raise RunError(f"stage {ex.number} itself failed: {attempt.error}")
        _references[key] = attempt.run
    return _references[key]


def _attempt(stage: Stage, seed: int, data: Data, lang: str, time_limit: float) -> _Attempt:
    """Run ``stage`` (the learner's file, or the reference) and catch what it does wrong."""
    w = words(lang)
    training = Training(seed=seed, device="cpu")
    printed = io.StringIO()
    attempt = _Attempt()
    import_optimizers()  # PyTorch's one-off import: none of the learner's seconds
    started = time.perf_counter()
    timer = _Timer()
    try:
        with _one_thread(), contextlib.redirect_stdout(printed), _bounded(time_limit) as timer:
            attempt.run = run_stage(stage, training, Output(quiet=True, lang=lang), printed, data)
    except KeyboardInterrupt:
        if not timer.fired:
            raise
        stopped = _error_check(stage.path, KeyboardInterrupt(), w, sys.exc_info()[2])
        attempt.error = Check(
            "runs",
            FAIL,
            w("practice.hangs", seconds=f"{time_limit:g}", line=stopped.message),
            stopped.detail,
        )
    except Exception as e:  # the learner's error, whatever it is: theirs to read
        attempt.error = _error_check(stage.path, e, w)
    attempt.seconds = time.perf_counter() - started
    attempt.output = printed.getvalue()
    return attempt


def _error_check(path: Path, e: BaseException, w, tb=None) -> Check:
    """The error as the learner's: the line of their file it came from, its message, and the
    traceback trimmed to their file's frames."""
    tb = tb or e.__traceback__
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename) == path]
    where = frames[-1].lineno if frames else "?"
    if isinstance(e, KeyboardInterrupt):
        return Check("runs", FAIL, str(where), "".join(traceback.format_list(frames)))
    message = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
    detail = "".join(traceback.format_list(frames)) + f"{type(e).__name__}: {e}"
    if isinstance(e, (RunError, UsageError)):  # nnreally said what went wrong, in a line
        message = str(e).splitlines()[0]
    return Check("runs", FAIL, w("practice.error", line=where, error=message), detail)


def _syntax_detail(e: SyntaxError) -> str:
    text = (e.text or "").rstrip("\n")
    caret = " " * max((e.offset or 1) - 1, 0) + "^"
    return f"line {e.lineno}: {text.strip()}\n{caret}" if text else ""


class _Timer:
    fired = False
    running = True


@contextlib.contextmanager
def _bounded(seconds: float) -> Iterator[_Timer]:
    """Interrupt the main thread after ``seconds``, as Ctrl-C would, and say so afterwards."""
    state, lock = _Timer(), threading.Lock()
    if not math.isfinite(seconds) or threading.current_thread() is not threading.main_thread():
        yield state
        return

    def fire() -> None:
        with lock:  # never once the run is over
            if state.running:
                state.fired = True
                _thread.interrupt_main()

    # interrupt_main does nothing where Ctrl-C is ignored (a command started with nohup or
    # in the background of a script): Python's own handler is put in for the run.
    handler = signal.getsignal(signal.SIGINT)
    if handler in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        with lock:
            state.running = False
        timer.cancel()
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One CPU thread: the same numbers on every machine, and none of the learner's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
