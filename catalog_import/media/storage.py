"""Content-addressed file storage: a file is kept once per SHA-256, whatever number of media use it.

``MediaStorage`` is the interface the rest of the server uses; ``LocalMediaStorage`` keeps files in a
directory (under the data directory by default). Files are written to a temporary file first (a small
download, held in memory, in one write) and moved into place atomically, so a process killed mid-download
leaves at most a temporary file, which the next start removes.

A file lives at ``files/<first two hex digits>/<sha256>``: 256 directories, made once. (Files stored in
the earlier layout, one more level of 256 directories under each, are found there and moved at start.)"""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

TEMP_SUFFIX = ".part"


class MediaStorage(Protocol):
    def temporary_file(self) -> contextlib.AbstractContextManager[Path]:
        """A new temporary file, removed on exit unless ``keep`` moved it into the store."""
        ...

    def keep(self, temporary: Path, sha256: str) -> None:
        """Move a downloaded file into the store under its hash (a file already stored stays as it is)."""
        ...

    def store(self, content: bytes, sha256: str) -> None:
        """Keep ``content`` in the store under its hash (a file already stored stays as it is)."""
        ...

    def path(self, sha256: str) -> Path | None:
        """Where the file with this hash is, or None when it is not stored."""
        ...

    def delete(self, sha256: str) -> None: ...

    def remove_stale_temporary_files(self) -> int: ...


class LocalMediaStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "files"
        self.temporary = root / "tmp"
        self.files.mkdir(parents=True, exist_ok=True)
        self.temporary.mkdir(parents=True, exist_ok=True)

    def _location(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.files / sha256[:2] / sha256

    def _earlier_location(self, sha256: str) -> Path:
        return self.files / sha256[:2] / sha256[2:4] / sha256

    @contextlib.contextmanager
    def temporary_file(self) -> Iterator[Path]:
        # The owner's pid is in the name, so that stale files of dead processes can be told apart.
        path = self.temporary / f"{os.getpid()}-{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def keep(self, temporary: Path, sha256: str) -> None:
        target = self._new_location(sha256)
        if target is None:
            return
        with temporary.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, target)

    def store(self, content: bytes, sha256: str) -> None:
        target = self._new_location(sha256)
        if target is None:
            return
        with self.temporary_file() as temporary:
            with temporary.open("wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)

    def _new_location(self, sha256: str) -> Path | None:
        """Where a file with this hash goes, its directory made; None when it is stored already."""
        target = self._location(sha256)
        if target.exists():
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def path(self, sha256: str) -> Path | None:
        for location in (self._location(sha256), self._earlier_location(sha256)):
            if location.exists():
                return location
        return None

    def delete(self, sha256: str) -> None:
        self._location(sha256).unlink(missing_ok=True)
        self._earlier_location(sha256).unlink(missing_ok=True)

    def move_earlier_files(self) -> int:
        """Move the files of the earlier layout into place; another process doing the same meanwhile is
        harmless (a file is moved once, the other finds it gone)."""
        moved = 0
        for directory in sorted(self.files.glob("??/??")):
            if not directory.is_dir():
                continue
            for file in directory.iterdir():
                with contextlib.suppress(FileNotFoundError, ValueError):
                    os.replace(file, self._location(file.name))
                    moved += 1
            with contextlib.suppress(OSError):
                directory.rmdir()
        return moved

    def remove_stale_temporary_files(self) -> int:
        """Remove temporary files whose process is gone (a download killed half-way)."""
        removed = 0
        for path in self.temporary.glob(f"*{TEMP_SUFFIX}"):
            pid = path.name.split("-", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            path.unlink(missing_ok=True)
            removed += 1
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
