"""Content-addressed storage: files kept once per hash and moved into place atomically, temporary files
that never outlive their owner."""

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_import.media.storage import TEMP_SUFFIX, LocalMediaStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalMediaStorage:
    return LocalMediaStorage(tmp_path / "media")


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def stored_files(storage: LocalMediaStorage) -> list[Path]:
    return sorted(path for path in storage.files.rglob("*") if path.is_file())


def temporary_files(storage: LocalMediaStorage) -> list[Path]:
    return sorted(storage.temporary.iterdir())


def store(storage: LocalMediaStorage, content: bytes) -> str:
    with storage.temporary_file() as temporary:
        temporary.write_bytes(content)
        storage.keep(temporary, digest(content))
    return digest(content)


def test_the_directories_are_created(tmp_path: Path) -> None:
    storage = LocalMediaStorage(tmp_path / "a" / "b")
    assert storage.files.is_dir()
    assert storage.temporary.is_dir()
    # Temporary files sit on the same file system as the store, so that keeping one is a rename.
    assert storage.files.stat().st_dev == storage.temporary.stat().st_dev


def test_keep_moves_the_temporary_file_into_place(storage: LocalMediaStorage) -> None:
    content = b"image bytes"
    sha256 = digest(content)
    with storage.temporary_file() as temporary:
        temporary.write_bytes(content)
        inode = temporary.stat().st_ino
        assert storage.path(sha256) is None
        storage.keep(temporary, sha256)
        # Moved, not copied: the stored file is the very file that was written, complete as soon as it is
        # visible under its name.
        assert not temporary.exists()
    location = storage.path(sha256)
    assert location == storage.files / sha256[:2] / sha256
    assert location.read_bytes() == content
    assert location.stat().st_ino == inode
    assert stored_files(storage) == [location]
    assert temporary_files(storage) == []


def test_keep_is_idempotent(storage: LocalMediaStorage) -> None:
    content = b"the same bytes"
    sha256 = store(storage, content)
    location = storage.path(sha256)
    assert location is not None
    inode = location.stat().st_ino
    with storage.temporary_file() as temporary:
        temporary.write_bytes(content)
        storage.keep(temporary, sha256)
    assert storage.path(sha256) == location
    assert location.stat().st_ino == inode
    assert location.read_bytes() == content
    assert stored_files(storage) == [location]
    assert temporary_files(storage) == []


def test_content_held_in_memory_is_stored_once(storage: LocalMediaStorage) -> None:
    content = b"a small download"
    storage.store(content, digest(content))
    location = storage.path(digest(content))
    assert location is not None
    assert location.read_bytes() == content
    inode = location.stat().st_ino
    storage.store(content, digest(content))
    assert location.stat().st_ino == inode
    # The same file, whichever way it arrived.
    assert store(storage, content) == digest(content)
    assert location.stat().st_ino == inode
    assert stored_files(storage) == [location]
    assert temporary_files(storage) == []


def test_files_of_the_earlier_layout_are_found_and_moved_into_place(storage: LocalMediaStorage) -> None:
    contents = [b"stored before", b"also before"]
    earlier = []
    for content in contents:
        sha256 = digest(content)
        location = storage.files / sha256[:2] / sha256[2:4] / sha256
        location.parent.mkdir(parents=True)
        location.write_bytes(content)
        earlier.append(location)
    assert [storage.path(digest(content)) for content in contents] == earlier
    assert storage.move_earlier_files() == 2
    moved = [storage.files / digest(content)[:2] / digest(content) for content in contents]
    assert [storage.path(digest(content)) for content in contents] == moved
    assert [path.read_bytes() for path in moved] == contents
    assert stored_files(storage) == sorted(moved)
    assert not any(path.parent.exists() for path in earlier)
    assert storage.move_earlier_files() == 0


def test_a_file_of_the_earlier_layout_is_deleted(storage: LocalMediaStorage) -> None:
    sha256 = digest(b"stored before")
    location = storage.files / sha256[:2] / sha256[2:4] / sha256
    location.parent.mkdir(parents=True)
    location.write_bytes(b"stored before")
    storage.delete(sha256)
    assert storage.path(sha256) is None
    assert stored_files(storage) == []


def test_different_content_is_stored_apart(storage: LocalMediaStorage) -> None:
    first = store(storage, b"first")
    second = store(storage, b"second")
    assert first != second
    first_path = storage.path(first)
    second_path = storage.path(second)
    assert first_path is not None
    assert second_path is not None
    assert first_path.read_bytes() == b"first"
    assert second_path.read_bytes() == b"second"
    assert len(stored_files(storage)) == 2


def test_delete_removes_the_file(storage: LocalMediaStorage) -> None:
    sha256 = store(storage, b"to be deleted")
    other = store(storage, b"to be kept")
    storage.delete(sha256)
    assert storage.path(sha256) is None
    assert storage.path(other) is not None
    # Deleting what is not there is not an error.
    storage.delete(sha256)
    storage.delete(digest(b"never stored"))


@pytest.mark.parametrize(
    "sha256", ["", "abc", "../../../../etc/passwd", "A" * 64, "g" * 64, digest(b"x") + "0", "/" + "a" * 63]
)
def test_only_sha256_digests_name_files(storage: LocalMediaStorage, sha256: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        storage.path(sha256)
    with pytest.raises(ValueError, match="SHA-256"):
        storage.delete(sha256)
    with storage.temporary_file() as temporary:
        temporary.write_bytes(b"x")
        with pytest.raises(ValueError, match="SHA-256"):
            storage.keep(temporary, sha256)


def test_temporary_files_are_named_with_the_pid_and_removed_on_exit(storage: LocalMediaStorage) -> None:
    with storage.temporary_file() as first, storage.temporary_file() as second:
        assert first != second
        assert first.parent == storage.temporary
        assert first.name.startswith(f"{os.getpid()}-")
        assert first.name.endswith(TEMP_SUFFIX)
        first.write_bytes(b"partial")
        second.write_bytes(b"partial")
    assert not first.exists()
    assert not second.exists()
    assert temporary_files(storage) == []


def test_temporary_files_are_removed_on_an_error(storage: LocalMediaStorage) -> None:
    written: list[Path] = []

    def download() -> None:
        with storage.temporary_file() as temporary:
            temporary.write_bytes(b"partial")
            written.append(temporary)
            raise RuntimeError("download failed")

    with pytest.raises(RuntimeError):
        download()
    assert written
    assert not written[0].exists()


def test_a_temporary_file_never_written_is_fine(storage: LocalMediaStorage) -> None:
    with storage.temporary_file() as temporary:
        pass
    assert not temporary.exists()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of another process, running while the test runs."""
    process = subprocess.Popen(["sleep", "30"])
    yield process.pid
    process.kill()
    process.wait()


def test_remove_stale_temporary_files(storage: LocalMediaStorage, dead_pid: int, live_pid: int) -> None:
    def make(name: str) -> Path:
        path = storage.temporary / name
        path.write_bytes(b"partial")
        return path

    dead = [make(f"{dead_pid}-{token}{TEMP_SUFFIX}") for token in ("0123456789abcdef", "fedcba9876543210")]
    no_pid = make(f"stray{TEMP_SUFFIX}")
    other = make(f"{live_pid}-0123456789abcdef{TEMP_SUFFIX}")
    not_temporary = make(f"{dead_pid}-notes.txt")
    sha256 = store(storage, b"stored")
    with storage.temporary_file() as current:
        current.write_bytes(b"downloading")
        assert storage.remove_stale_temporary_files() == 3
        assert current.exists()
    assert not any(path.exists() for path in [*dead, no_pid])
    assert other.exists()
    assert not_temporary.exists()
    assert storage.path(sha256) is not None
    assert storage.remove_stale_temporary_files() == 0
