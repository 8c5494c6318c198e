"""``python -m nnreally.data download|verify|info``: fetch and inspect the cache ahead of time."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.cli import Parser, guarded
from nnreally.data import sources
from nnreally.data.download import DownloadError, Remote, file_digest, is_verified
from nnreally.data.files import DataError
from nnreally.data.sources import DIGITS_VERSION, SYSTEM_FASHION, default_data_dir, load_data


def _cache_entries(data_dir: Path) -> list[tuple[str, Path, Remote]]:
    """Every file the data folder may cache, with what it should be."""
    pickle = sources.MNIST_PICKLE  # looked up now, so a test can stand in its own
    entries = [("mnist", data_dir / "mnist" / pickle.filename, pickle)]
    entries += [("mnist", data_dir / "mnist" / r.filename, r) for r in sources.MNIST_IDX]
    entries += [
        ("fashion-mnist", data_dir / "fashion-mnist" / r.filename, r) for r in sources.FASHION_IDX
    ]
    return entries


def info(data_dir: Path) -> list[str]:
    """What is cached where, and whether it has been verified."""
    lines = [f"data folder: {data_dir.resolve()}"]
    for name, path, remote in _cache_entries(data_dir):
        if path.exists():
            state = "verified" if is_verified(path, remote) else "CORRUPT (fails its checksum)"
            lines.append(f"{name:<14} {path}  {path.stat().st_size:,} B  {state}")
    digits_cache = data_dir / "digits" / f"digits-v{DIGITS_VERSION}.pt"
    if digits_cache.exists():
        lines.append(f"{'digits':<14} {digits_cache}  {digits_cache.stat().st_size:,} B  cache")
    if all((SYSTEM_FASHION / r.filename).is_file() for r in sources.FASHION_IDX):
        lines.append(f"{'fashion-mnist':<14} {SYSTEM_FASHION}  (Debian's dataset-fashion-mnist)")
    if len(lines) == 1:
        lines.append("nothing cached yet: python -m nnreally.data download")
    return lines


def verify(data_dir: Path) -> tuple[list[str], bool]:
    """Re-hash every cached file; return report lines and whether all are good."""
    lines, good = [], True
    for name, path, remote in _cache_entries(data_dir):
        if path.exists():
            ok = file_digest(path, remote.algorithm) == remote.digest
            good &= ok
            lines.append(f"{'ok' if ok else 'CORRUPT':<8} {name:<14} {path}")
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
    commands.add_parser("verify", help="re-check every cached file's checksum")
    commands.add_parser("info", help="what is cached, where, verified or not")

    def body() -> int:
        args = parser.parse_args(argv)
        data_dir = args.data_dir or default_data_dir()
        if args.command == "download":
            data = load_data(args.name, data_dir, progress=sys.stderr.isatty())
            print(data.describe())
            return 0
        if args.command == "verify":
            lines, good = verify(data_dir)
            print("\n".join(lines))
            return 0 if good else 1
        print("\n".join(info(data_dir)))
        return 0

    return guarded(prog, body, failure=(DataError, DownloadError))


if __name__ == "__main__":
    sys.exit(main())
