"""``python -m nnreally.data download|verify|info``: fetch and inspect the cache ahead of time."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.data import digits_cache, sources
from nnreally.data.checksums import Remote, is_verified, problem
from nnreally.data.folder import FASHION, MNIST, check_data_dir, data_dir_arg, default_data_dir
from nnreally.data.sources import SYSTEM_FASHION, load_data
from nnreally.data.writes import ASIDE_SUFFIX
from nnreally.errors import guarded
from nnreally.options import Parser
from nnreally.script import exit_with


def _cache_entries(data_dir: Path) -> list[tuple[str, Path, Remote]]:
    """Every file the data folder may cache, with what it should be."""
    remotes = [(MNIST, sources.MNIST_PICKLE), *((MNIST, r) for r in sources.MNIST_IDX)]
    remotes += [(FASHION, r) for r in sources.FASHION_IDX]
    return [(name, data_dir / name / r.filename, r) for name, r in remotes]


def _set_aside(data_dir: Path) -> list[Path]:
    """Files moved aside because they failed their check (they are never deleted)."""
    return sorted(p for f in (MNIST, FASHION) for p in (data_dir / f).glob(f"*{ASIDE_SUFFIX}*"))


def info(data_dir: Path) -> list[str]:
    """What is cached where, and whether it has been verified."""
    lines = [f"data folder: {data_dir.resolve()}"]
    for name, path, remote in _cache_entries(data_dir):
        if path.exists():
            state = "verified" if is_verified(path, remote) else "CORRUPT (fails its checksum)"
            lines.append(f"{name:<14} {path}  {path.stat().st_size:,} B  {state}")
    for digits, n_train, n_valid in digits_cache.caches(data_dir):
        size = f"{n_train:,} + {n_valid:,} images"
        lines.append(f"{'digits':<14} {digits}  {digits.stat().st_size:,} B  cache of {size}")
    for path in _set_aside(data_dir):
        lines.append(f"{'set aside':<14} {path}  (failed its check; delete it when done with it)")
    if all((SYSTEM_FASHION / r.filename).is_file() for r in sources.FASHION_IDX):
        lines.append(f"{'fashion-mnist':<14} {SYSTEM_FASHION}  (Debian's dataset-fashion-mnist)")
    if len(lines) == 1:
        lines.append("nothing cached yet: python -m nnreally.data download")
    return lines


def verify(data_dir: Path) -> tuple[list[str], bool]:
    """Re-check every cached file in full; return report lines and whether all are good."""
    lines, good = [], True
    for name, path, remote in _cache_entries(data_dir):
        if path.exists():
            why = problem(path, remote, rehash=True)  # whatever was remembered
            good &= why is None
            state = "ok" if why is None else "CORRUPT"
            lines.append(f"{state:<8} {name:<14} {path}" + (f" ({why})" if why else ""))
    for digits, n_train, n_valid in digits_cache.caches(data_dir):
        try:
            digits_cache.check(digits, n_train, n_valid)
            lines.append(f"{'ok':<8} {'digits':<14} {digits}")
        except digits_cache.BrokenCacheError as e:
            good = False
            lines.append(f"{'CORRUPT':<8} {'digits':<14} {digits} ({e}; it is made again on use)")
    return lines or ["nothing cached to verify"], good


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.data") -> int:
    """``download [mnist|fashion-mnist]``, ``verify`` or ``info``; returns the exit code."""
    folder = Parser(add_help=False)  # --data-dir before or after the command
    folder.add_argument(
        "--data-dir",
        type=data_dir_arg,
        default=argparse.SUPPRESS,
        help="data folder (default $NNREALLY_DATA or ./data)",
    )
    parser = Parser(
        prog=prog, description="Fetch and check the data cache ahead of time.", parents=[folder]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser(
        "download", parents=[folder], help="download and verify a data set (default mnist)"
    )
    get.add_argument("name", nargs="?", default=MNIST, choices=(MNIST, FASHION))
    commands.add_parser(
        "verify", parents=[folder], help="re-check every cached file (checksums, digits caches)"
    )
    commands.add_parser("info", parents=[folder], help="what is cached, where, verified or not")

    def body() -> int:
        args = parser.parse_args(argv)
        data_dir = getattr(args, "data_dir", None) or default_data_dir()
        check_data_dir(data_dir)
        if args.command == "download":
            data = load_data(args.name, data_dir, progress=sys.stderr.isatty())
            for note in data.note.splitlines():
                print(f"note: {note}", file=sys.stderr)
            print(data.describe())
            return 0
        if args.command == "verify":
            lines, good = verify(data_dir)
            print("\n".join(lines))
            return 0 if good else 1
        print("\n".join(info(data_dir)))
        return 0

    return guarded(prog, body)


if __name__ == "__main__":
    exit_with("python -m nnreally.data", main)
