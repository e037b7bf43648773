"""Content-addressed blob storage for attachments (LOG-7).

A blob's key is the SHA-256 of its bytes (64 hex digits), so the same file is stored once however
many emails carry it. `FilesystemBlobStore` keeps blobs under `<root>/<ab>/<cd>/<key>`; the root
is the app config `BLOB_PATH`, else `<instance folder>/blobs`. Writes are atomic: the bytes go to
a temporary file in the root, hashed while they are written in 1 MiB chunks (a stream is never
read whole into memory), then the file is renamed to its key; a concurrent writer of the same
content renames onto the same name, which is harmless. Another backend (S3, ...) implements the
same five methods and is installed with `set_blob_store(app, store)`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

CHUNK = 1024 * 1024
_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    """What attachment storage needs from a backend."""

    def put(self, data: bytes | BinaryIO) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> bool: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...


def check_key(key: str) -> str:
    """The key if it is 64 lower-case hex digits (nothing else reaches a path); else ValueError."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class FilesystemBlobStore:
    """Blobs as files under `root`, fanned out by the first two bytes of the key."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes | BinaryIO) -> str:
        """Store bytes or a readable binary stream; returns its key (no write if already there)."""
        stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, temp = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            key = digest.hexdigest()
            final = self._path(key)
            if final.exists():
                os.unlink(temp)
                return key
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
            return key
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise

    def open(self, key: str) -> BinaryIO:
        """A binary file object of the blob (FileNotFoundError when absent)."""
        return open(self._path(key), "rb")  # noqa: SIM115 (the caller closes it)

    def delete(self, key: str) -> bool:
        """Remove the blob; False when it was not there."""
        try:
            os.unlink(self._path(key))
            return True
        except FileNotFoundError:
            return False

    def exists(self, key: str) -> bool:
        """True when the blob is stored."""
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        """The blob's size in bytes."""
        return self._path(key).stat().st_size


def set_blob_store(app: Flask, store: BlobStore) -> None:
    """Install another backend for this app."""
    app.extensions["liaison_blobs"] = store


def blob_store() -> BlobStore:
    """The current app's blob store (the filesystem one unless another was installed)."""
    store = current_app.extensions.get("liaison_blobs")
    if store is None:
        root = current_app.config.get("BLOB_PATH") or os.environ.get("LIAISON_BLOB_PATH")
        store = FilesystemBlobStore(root or Path(current_app.instance_path) / "blobs")
        current_app.extensions["liaison_blobs"] = store
    return store
