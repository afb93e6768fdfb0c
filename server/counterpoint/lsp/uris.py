"""Document URIs: which are specs, and the local path of a ``file:`` one (others are refused)."""

from __future__ import annotations

from pathlib import Path

from counterpoint_protocol.methods import SPEC_SUFFIX
from pygls.uris import to_fs_path


def is_spec_uri(uri: str) -> bool:
    """A ``*.agents.md`` document, local or not."""
    return uri.endswith(SPEC_SUFFIX)


def is_file_uri(uri: str) -> bool:
    return uri[:5].lower() == "file:"


def is_local_spec(uri: str) -> bool:
    """A spec the server can read: a ``file:`` uri (an untitled or remote document is left alone)."""
    return is_spec_uri(uri) and is_file_uri(uri)


class NotAFileUri(ValueError):
    """A uri the server cannot read (http:, untitled:, a remote one): only local files are run."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"not a file: URI: {uri[:200]} (only files on this machine)")


def spec_path(uri: str) -> Path:
    """The local path of a ``file:`` uri; `NotAFileUri` for any other."""
    path = to_fs_path(uri) if is_file_uri(uri) else None
    if path is None:
        raise NotAFileUri(uri)
    return Path(path)
