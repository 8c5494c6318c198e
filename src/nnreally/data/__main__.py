"""``python -m nnreally.data download|verify|info``: fetch and inspect the cache ahead of time."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.data import digits_cache, sources
from nnreally.data.download import Remote, is_verified, problem
from nnreally.data.sources import SYSTEM_FASHION, check_data_dir, default_data_dir, load_data
from nnreally.data.writes import ASIDE_SUFFIX
from nnreally.errors import guarded
from nnreally.options import Parser


def _cache_entries(data_dir: Path) -> list[tuple[str, Path, Remote]]:
    """Every file the data folder may cache, with what it should be."""
    pickle = sources.MNIST_PICKLE  # looked up now, so a test can stand in its own
    entries = [("mnist", data_dir / "mnist" / pickle.filename, pickle)]
    entries += [("mnist", data_dir / "mnist" / r.filename, r) for r in sources.MNIST_IDX]
    entries += [
        ("fashion-mnist", data_dir / "fashion-mnist" / r.filename, r) for r in sources.FASHION_IDX
    ]
    return entries


def _set_aside(data_dir: Path) -> list[Path]:
    """Files moved aside because they failed their check (they are never deleted)."""
    folders = ("mnist", "fashion-mnist")
    return sorted(p for f in folders for p in (data_dir / f).glob(f"*{ASIDE_SUFFIX}*"))


def info(data_dir: Path) -> list[str]:
    """What is cached where, and whether it has been verified."""
    lines = [f"data folder: {data_dir.resolve()}"]
    for name, path, remote in _cache_entries(data_dir):
        if path.exists():
            state = "verified" if is_verified(path, remote) else "CORRUPT (fails its checksum)"
            lines.append(f"{name:<14} {path}  {path.stat().st_size:,} B  {state}")
    digits = digits_cache.cache_path(data_dir)
    if digits.exists():
        lines.append(f"{'digits':<14} {digits}  {digits.stat().st_size:,} B  cache")
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
    digits = digits_cache.cache_path(data_dir)
    if digits.exists() or digits.is_symlink():
        try:
            digits_cache.check(digits)
            lines.append(f"{'ok':<8} {'digits':<14} {digits}")
        except digits_cache.BrokenCacheError as e:
            good = False
            lines.append(f"{'CORRUPT':<8} {'digits':<14} {digits} ({e}; it is made again on use)")
    return lines or ["nothing cached to verify"], good


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.data") -> int:
    """``download [mnist|fashion-mnist]``, ``verify`` or ``info``; returns the exit code."""
    parser = Parser(prog=prog, description="Fetch and check the data cache ahead of time.")
    parser.add_argument(
        "--data-dir", type=Path, help="data folder (default $NNREALLY_DATA or ./data)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("download", help="download and verify a data set (default mnist)")
    get.add_argument("name", nargs="?", default="mnist", choices=("mnist", "fashion-mnist"))
    commands.add_parser("verify", help="re-check every cached file (checksums, digits cache)")
    commands.add_parser("info", help="what is cached, where, verified or not")

    def body() -> int:
        args = parser.parse_args(argv)
        data_dir = args.data_dir or default_data_dir()
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
    sys.exit(main())
