"""What is cached: hashed once, then known by size and modification time, re-hashed on demand."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nnreally.data.checksums import VERIFIED_FILE, Remote, is_verified, problem
from tests.data.makers import damage_inside

PAYLOAD = b"some bytes" * 1000


def remote(payload: bytes = PAYLOAD, size: bool = False) -> Remote:
    digest = hashlib.sha256(payload).hexdigest()
    return Remote("file.gz", (), "sha256", digest, len(payload) if size else None)


def test_a_good_file_is_remembered(tmp_path: Path):
    (tmp_path / "file.gz").write_bytes(PAYLOAD)
    assert problem(tmp_path / "file.gz", remote()) is None
    assert "file.gz" in (tmp_path / VERIFIED_FILE).read_text()


def test_what_is_wrong_is_said(tmp_path: Path):
    path = tmp_path / "file.gz"
    assert problem(path, remote()) == "is missing"
    path.write_bytes(b"other")
    assert problem(path, remote(size=True)) == f"is 5 bytes, not {len(PAYLOAD):,}"
    assert problem(path, remote()) == "fails its sha256 checksum"
    path.unlink()
    path.mkdir()
    assert problem(path, remote()) == "is not a regular file"
    path.rmdir()
    path.symlink_to(tmp_path / "gone")
    assert problem(path, remote()) == "is a broken symlink"


def test_rehash_sees_through_a_matching_stamp(tmp_path: Path):
    """verify re-hashes even when the remembered size and mtime still match (bit rot)."""
    path = tmp_path / "file.gz"
    path.write_bytes(PAYLOAD)
    assert problem(path, remote()) is None  # hashed and remembered
    damage_inside(path)
    assert problem(path, remote()) is None  # trusted by its stamp
    assert problem(path, remote(), rehash=True) == "fails its sha256 checksum"
    assert not is_verified(path, remote())  # the failure dropped the stamp


def test_damaged_verified_notes_file_is_ignored(tmp_path: Path):
    (tmp_path / "file.gz").write_bytes(PAYLOAD)
    for notes in ("[1, 2]", '{"file.gz": 5}', "{not json", '{"file.gz": {"stamp": 3}}'):
        (tmp_path / VERIFIED_FILE).write_text(notes)
        assert is_verified(tmp_path / "file.gz", remote())


def test_by_hand_says_where_and_which_checksum(tmp_path: Path):
    assert remote().by_hand(tmp_path / "file.gz") == (
        f"To place it by hand, save it as {tmp_path / 'file.gz'} (sha256 {remote().digest})."
    )
