"""A run directory in use: one process at a time (a lock), and nothing left behind by a failed start.

`claim(folder)` is what `kerazoo train` wraps a run in:

- **The lock.** `<folder>/kerazoo.lock` holds the owner's pid, host and command, and the owner keeps
  an exclusive `flock` on it while it runs. A second process finds the lock held and stops with
  `RunLockedError` naming the owner. The kernel drops the `flock` when its process dies, however it
  dies (`kill -9` included), so a lock file left by a killed process is recognised as stale and
  taken over, saying whose it was.
- **A failed start leaves nothing.** If the run fails before it has made progress (`progress()`
  says so: e.g. no backup of a finished epoch), what this process created is removed: the folder
  itself (and parents) if it did not exist, else only the entries it added. A folder the user made
  and a run with progress are never deleted.

Importing this module imports neither TensorFlow nor Keras (a search directory can be claimed the
same way).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from kerazoo.errors import OutputError, RunLockedError

__all__ = ["LOCK_NAME", "RunLock", "claim", "check_writable"]

LOCK_NAME = "kerazoo.lock"


class RunLock:
    """An exclusive, crash-safe lock on a folder (`<folder>/kerazoo.lock`).

    Example:
      >>> with RunLock("kerazoo_runs/lenet5"):
      ...     ...   # a second process gets RunLockedError naming this one
    """

    def __init__(self, folder: str | os.PathLike, what: str = "run", *, name: str = LOCK_NAME):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self._fd: int | None = None
        self.took_over: dict | None = None   # the stale owner this lock was taken from, if any

    def acquire(self, *, wait: bool = False) -> "RunLock":
        """Takes the lock, or raises `RunLockedError` naming the live owner (`wait=True`: waits for it,
        saying so once)."""
        told = False
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutputError(f"{self.folder}: cannot create the lock of this {self.what} ({self.path}: "
                                  f"{e.strerror}); accepted: a folder you can write to") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read(fd)
                if wait:
                    if not told:
                        print(f"{self.folder}: waiting for the {self.what} of pid {owner.get('pid', '?')} "
                              f"(`{owner.get('command', '?')}`) to finish", file=sys.stderr)
                        told = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                else:
                    os.close(fd)
                    raise RunLockedError(
                        f"{self.folder} is in use by another {self.what}: pid {owner.get('pid', '?')} on host "
                        f"{owner.get('host', '?')} (`{owner.get('command', '?')}`, started {owner.get('started', '?')}). "
                        f"Wait for it to finish, stop it, or choose another output directory.") from None
            except OSError as e:  # e.g. a network filesystem without locks: run, but say it is unguarded
                os.close(fd)
                if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                print(f"{self.folder}: the filesystem has no file locks ({e.strerror}); running without the run "
                      "lock, so do not start a second process on it.", file=sys.stderr)
                return self
            try:  # the file may have been removed and re-created by its last owner between open and flock
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stale = _read(fd)
        if stale.get("pid") is not None:
            self.took_over = stale
            print(f"{self.folder}: took over the stale lock of pid {stale.get('pid')} on host {stale.get('host', '?')} "
                  f"(`{stale.get('command', '?')}`, started {stale.get('started', '?')}): that process is gone.",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
        command = " ".join(["kerazoo" if program in ("cli.py", "__main__.py") else program, *sys.argv[1:]])
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Removes the lock file and drops the lock (unlinked while still held: no other process can
        take a lock on a file that is about to disappear and then find a new one)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        owner = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return owner if isinstance(owner, dict) else {}


@contextlib.contextmanager
def claim(folder: str | os.PathLike, *, progress: Callable[[], bool] = lambda: False,
          what: str = "run") -> Iterator[RunLock]:
    """Creates and locks `folder` for one run; if the run fails before `progress()` is true, removes
    what this call created (never a folder or file that existed before).

    Args:
      folder: the run directory (created with its parents if missing).
      progress: tells whether the run has saved something worth keeping (checked on failure).
      what: "run" or "search", for the message a second process gets.

    Raises:
      RunLockedError: another live process holds the folder (nothing is touched then).
    """
    folder = Path(folder)
    created = _first_missing(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create this {what}'s folder ({e.filename}: {e.strerror}); accepted: a "
                          "folder you can write to (--output)") from None
    held = RunLock(folder, what).acquire()
    before = set(os.listdir(folder))  # under the lock: nobody else adds to it now
    try:
        yield held
    except BaseException:
        if not progress():
            _remove_new(folder, created, before)
        raise
    finally:
        held.release()


def _first_missing(folder: Path) -> Path | None:
    """The topmost ancestor of `folder` (or itself) that does not exist yet, or None."""
    missing = None
    for path in [folder, *folder.parents]:
        if path.exists():
            break
        missing = path
    return missing


def _remove_new(folder: Path, created: Path | None, before: set) -> None:
    if created is not None:  # the folder is this run's; parents it created go only if empty (another run may
        shutil.rmtree(folder, ignore_errors=True)  # have started in them meanwhile)
        for parent in folder.parents:
            if not parent.is_relative_to(created):
                break
            with contextlib.suppress(OSError):
                parent.rmdir()
        return
    for name in set(os.listdir(folder)) - before - {LOCK_NAME}:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def check_writable(path: str | os.PathLike, what: str) -> Path:
    """Raises `OutputError` now, before anything heavy, if `path` (a folder to create or write into)
    cannot be written: its nearest existing ancestor must be a folder in which a file can be created
    (tried, then removed). Creates nothing. Returns `path`.

    Args:
      what: how the message names the path (`"--destination"`, `"--output"`).
    """
    path = Path(path).expanduser()
    existing = path
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{what} {path}: {existing} is a file, not a folder; accepted: a folder (new or existing)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kerazoo-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {path} cannot be written ({existing}: {e.strerror}); accepted: a folder you can "
                          "write to") from None
    return path
