"""Opening the files a user names: only regular files, only up to a stated size, never a hang.

Every reader in the core comes through here. A path is accepted only when it is a regular file of at most
``max_bytes``: ``open()`` on a named pipe blocks until a writer appears (forever, usually), and
``/dev/zero`` or ``/dev/urandom`` report size 0 yet never end. The file is then opened with ``O_NONBLOCK``
and checked again through ``fstat``, so a path swapped for a pipe between the check and the open cannot
hang either. Sizes declared *inside* a file (headers, zip directories, image dimensions) are checked by
each reader against its own cap before it allocates anything; the caps shared by several readers live here.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Iterator

from .errors import UserInputError

KiB, MiB, GiB = 2**10, 2**20, 2**30

# A weights or training-state file and the tensors declared in it. resnet152 with its optimizer state is
# about 0.5 GiB; anything beyond this is not a ResNet of this project (or is a bomb).
MAX_WEIGHTS_BYTES = 2 * GiB
# A JSON model card or metadata document (real ones are a few KiB).
MAX_CARD_BYTES = 1 * MiB
# A CSV of metrics: one row per epoch.
MAX_TABLE_BYTES = 64 * MiB

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
# O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer. Absent on Windows.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def format_bytes(n: int | None) -> str:
    """``3 * 2**30`` -> ``"3.0 GiB"``, for messages and listings; ``None`` -> ``"unknown size"``."""
    if n is None:
        return "unknown size"
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (``"a named pipe"``), from ``st_mode``."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _os_error(label: str, exc: OSError) -> UserInputError:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return UserInputError(f"{label}: no such file")
    if isinstance(exc, PermissionError):
        return UserInputError(f"{label}: permission denied")
    return UserInputError(f"{label}: cannot read ({exc.strerror or exc})")


def _check_stat(st: os.stat_result, label: str, max_bytes: int | None, noun: str) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise UserInputError(f"{label} is a directory, not {noun}")
    if not stat.S_ISREG(st.st_mode):
        raise UserInputError(f"{label}: not a regular file ({kind_of(st.st_mode)})")
    if max_bytes is not None and st.st_size > max_bytes:
        raise UserInputError(f"{label} is too large ({format_bytes(st.st_size)}) to be {noun} "
                             f"(at most {format_bytes(max_bytes)})")
    return st.st_size


def check_regular_file(path: str | os.PathLike[str], max_bytes: int | None, *, label: str | None = None,
                       noun: str = "a file") -> int:
    """The size of ``path`` if it is a regular file of at most ``max_bytes`` (``None``: any size).

    Raises :class:`UserInputError` with one line naming ``label`` (default: the path): no such file,
    permission denied, a directory ("not ``noun``"), not a regular file (a named pipe, a device...),
    too large.
    Only ``stat`` is called: nothing is opened.
    """
    label = label or str(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _os_error(label, exc) from None
    return _check_stat(st, label, max_bytes, noun)


@contextlib.contextmanager
def open_regular_file(path: str | os.PathLike[str], max_bytes: int | None, *, label: str | None = None,
                      noun: str = "a file") -> Iterator[tuple[io.BufferedReader, int]]:
    """``(binary file, size)`` for a regular file of at most ``max_bytes``; see :func:`check_regular_file`.

    The path is checked before it is opened (a device is never even opened) and the open file again
    (``fstat``), so no path can make this block.
    """
    label = label or str(path)
    check_regular_file(path, max_bytes, label=label, noun=noun)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(label, exc) from None
    try:
        size = _check_stat(os.fstat(fd), label, max_bytes, noun)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, size


def read_file_bytes(path: str | os.PathLike[str], max_bytes: int, *, label: str | None = None,
                    noun: str = "a file") -> bytes:
    """All bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular_file`)."""
    label = label or str(path)
    with open_regular_file(path, max_bytes, label=label, noun=noun) as (f, size):
        try:
            # Exactly the size fstat reported, then one more byte to notice a file still being written.
            data = f.read(size)
            grew = bool(f.read(1))
        except OSError as exc:
            raise _os_error(label, exc) from None
    if grew or len(data) != size:
        raise UserInputError(f"{label} changed while it was read; try again when it is complete")
    return data


def read_file_text(path: str | os.PathLike[str], max_bytes: int, *, label: str | None = None,
                   noun: str = "a text file") -> str:
    """A regular file of at most ``max_bytes`` decoded as UTF-8; one line if it is not UTF-8."""
    label = label or str(path)
    data = read_file_bytes(path, max_bytes, label=label, noun=noun)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserInputError(f"{label} is not UTF-8 text, so not {noun}") from None

