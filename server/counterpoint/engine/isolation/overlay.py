"""Overlay mounts (copy-on-write working copies) and finding mounts left behind. Blocking: call on a thread.

An agent's copy is an overlay whose lower layer is the run's one shared checkout and whose upper
layer holds only what the agent changed: it costs a mount (about a millisecond), not a checkout.
Mounting needs the right to mount (root, or CAP_SYS_ADMIN) and an upper folder on a file system
overlayfs accepts; where it is refused, the caller falls back to a plain ``git worktree add``.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

MNT_DETACH = 2
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _escape(path: Path) -> str:
    """A path as an overlay option value (``\\``, ``,`` and ``:`` escaped)."""
    text = os.fspath(path)
    for char in ("\\", ",", ":"):
        text = text.replace(char, "\\" + char)
    return text


def mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> None:
    """Mount an overlay of ``upper`` over ``lower`` on ``target``; `OSError` when refused.

    Directory renames are asked for (``redirect_dir=on``: without it renaming a folder that came
    from the lower layer fails with EXDEV) and left out where the kernel does not know them."""
    base = f"lowerdir={_escape(lower)},upperdir={_escape(upper)},workdir={_escape(work)}"
    try:
        _mount(base + ",redirect_dir=on", target)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        _mount(base, target)


def _mount(options: str, target: Path) -> None:
    rc = _lib().mount(b"overlay", os.fsencode(target), b"overlay", ctypes.c_ulong(0), options.encode())
    if rc != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), os.fspath(target))


def unmount(target: Path) -> bool:
    """Detach the mount on ``target`` (lazily: the call returns at once, the kernel lets go of
    it when no process uses it any more, so a busy copy goes too). False when nothing was
    mounted there."""
    if _lib().umount2(os.fsencode(target), MNT_DETACH) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):
        return False
    raise OSError(code, os.strerror(code), os.fspath(target))


def _unescape(field: str) -> str:
    """A mountinfo field with its octal escapes (``\\040`` for a space) decoded."""
    if "\\" not in field:
        return field
    out = bytearray()
    raw = field.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 3 < len(raw) and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def mounts_under(folder: Path) -> list[Path]:
    """Mount points at or below ``folder`` (this process's view), deepest first."""
    prefix = os.path.realpath(folder)
    found: list[Path] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as lines:
            for line in lines:
                fields = line.split(" ")
                if len(fields) < 5:
                    continue
                point = _unescape(fields[4])
                if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                    found.append(Path(point))
    except OSError:
        return []
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def is_mounted(target: Path) -> bool:
    return Path(os.path.realpath(target)) in mounts_under(target)
