"""Verified downloads: a file reaches its final name only whole and with the right checksum.

``fetch`` tries a file's URLs in order (each one as ``transfer.attempt``, within its own time
budget) until one gives a verified file. A file already at the final name is checked first; one
that fails is never deleted but moved aside. A failed, interrupted or concurrent download leaves
no partial file and no folder it made; the error names every URL tried, why each failed, and how
to place the file by hand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from nnreally.data.checksums import Remote, problem, remember
from nnreally.data.transfer import AttemptError, Limits, attempt
from nnreally.data.writes import folder_for, set_aside, sweep
from nnreally.errors import RunError


class DownloadError(RunError):
    """No URL gave a verified file; ``attempts`` holds (file, URL, reason) per URL tried."""

    def __init__(self, message: str, attempts: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.attempts = list(attempts)

    @property
    def reasons(self) -> list[str]:
        """Each attempt's reason, in order."""
        return [reason for _, _, reason in self.attempts]


def failure(what: str, attempts: Sequence[tuple[str, str, str]]) -> str:
    """``could not download WHAT``, then which files were tried from where, each reason once."""
    if not attempts:
        return f"could not download {what}: no URL to try"
    reasons = list(dict.fromkeys(reason for _, _, reason in attempts))
    files = list(dict.fromkeys(name for name, _, _ in attempts))

    def urls(name: str) -> str:
        return ", ".join(
            url if len(reasons) == 1 else f"{url} ({reason})"
            for file, url, reason in attempts
            if file == name
        )

    head = f"could not download {what}" + (f" ({reasons[0]})" if len(reasons) == 1 else "")
    if len(files) == 1:
        return f"{head} from {urls(files[0])}"
    return f"{head}: " + "; ".join(f"{name} from {urls(name)}" for name in files)


def set_aside_note(path: Path, why: str) -> str:
    """Move a file that is not what it should be out of the way; say where, in one line."""
    try:
        aside = set_aside(path)
    except OSError as e:
        raise DownloadError(
            f"{path} {why}, and it cannot be moved aside ({e.strerror or e}): "
            "move or delete it, then try again"
        ) from None
    return f"moved {path} aside to {aside}: it {why} (to train on it as it is: --data {aside})"


def fetch(
    remote: Remote,
    folder: Path,
    *,
    urls: Sequence[str] | None = None,
    limits: Limits | None = None,
    progress: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Return ``folder/remote.filename``, downloading and verifying it first if needed.

    A file already there is checked; one that fails is moved aside (never deleted), and the
    line saying where is appended to ``notes``. URLs are tried in order (``urls`` overrides
    ``remote.urls``), each within ``limits`` (default ``Limits()``).
    """
    limits = limits or Limits()
    final = Path(folder) / remote.filename
    sweep(final.parent)
    aside = ""
    if final.exists() or final.is_symlink():
        why = problem(final, remote)
        if why is None:
            return final
        aside = set_aside_note(final, why)
        if notes is not None:
            notes.append(aside)
    try:
        with folder_for(final.parent):
            return _first_good(remote, final, urls or remote.urls, limits, progress, aside)
    except OSError as e:  # the folder cannot be made, or a file cannot be written in it
        raise DownloadError(f"cannot write to {final.parent}: {e.strerror or e}") from None


def _first_good(
    remote: Remote, final: Path, urls: Sequence[str], limits: Limits, progress: bool, aside: str
) -> Path:
    """Try each URL in turn; the first that gives a verified file wins."""
    with tempfile.TemporaryFile(dir=final.parent):
        pass  # can we write here? better to know before downloading (``fetch`` says why not)
    attempts = []
    for url in urls:
        try:
            attempt(url, remote, final, limits, progress)
        except AttemptError as e:
            attempts.append((remote.filename, url, str(e)))
            continue
        except OSError as e:  # our side: the disk is full, the folder went away, ...
            where = f"{remote.filename} in {final.parent}"
            raise DownloadError(f"could not save {where}: {e.strerror or e}") from None
        remember(final, remote)
        return final
    aside = f" ({aside})" if aside else ""
    raise DownloadError(
        f"{failure(remote.filename, attempts)}{aside}. {remote.by_hand(final)}", attempts
    )
