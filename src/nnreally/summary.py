"""The tutorial's closing summary: what each piece gives you, and the stage that introduced it.

The tutorial ends by listing what ``torch.nn`` (``Module``, ``Parameter``, ``functional``),
``torch.optim``, ``Dataset`` and ``DataLoader`` each do. Here each piece names the stage that
introduced it, so the book's summary page links to the place where it took over a job. What
each piece gives you is told in the catalogs (``summary.pieces.KEY``), in every language.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnreally.texts import words


@dataclass(frozen=True)
class Piece:
    """One piece of PyTorch, the stage that introduced it, and its key in the catalogs."""

    name: str  # as code: "nn.Module"
    stage: str | None  # the stage that introduced it (None: a group of pieces)
    key: str
    parts: tuple[Piece, ...] = ()

    def text(self, lang: str) -> str:
        return words(lang)(f"summary.pieces.{self.key}")


@dataclass(frozen=True)
class Group:
    """A heading (its key in the catalogs) and its pieces."""

    key: str
    pieces: tuple[Piece, ...]

    def heading(self, lang: str) -> str:
        return words(lang)(f"summary.groups.{self.key}")


TUTORIAL = Group(
    "tutorial",
    (
        Piece(
            "torch.nn",
            None,
            "nn",
            (
                Piece("Module", "03", "module"),
                Piece("Parameter", "03", "parameter"),
                Piece("functional", "02", "functional"),
            ),
        ),
        Piece("torch.optim", "05", "optim"),
        Piece("Dataset", "06", "dataset"),
        Piece("DataLoader", "07", "dataloader"),
    ),
)
ALONG_THE_WAY = Group(
    "along_the_way",
    (
        Piece("nn.Linear", "04", "linear"),
        Piece("nn.Conv2d", "09", "conv2d"),
        Piece("nn.Sequential", "10", "sequential"),
        Piece("torch.device", "12", "device"),
    ),
)
BEYOND = Group(
    "beyond",
    (Piece("torch.cuda.graph", "13", "cuda_graph"), Piece("DistributedDataParallel", "14", "ddp")),
)
GROUPS = (TUTORIAL, ALONG_THE_WAY, BEYOND)


def pieces() -> list[Piece]:
    """Every piece that names a stage, nested ones included."""
    return [p for g in GROUPS for piece in g.pieces for p in (piece, *piece.parts) if p.stage]
