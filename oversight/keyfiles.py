"""The server's secret files in the data directory (mode 0600), made once on first use.

`access-keys.fernet` encrypts access-key secrets at rest; keys for other jobs (pagination tokens)
are derived from it, so servers that share access keys (and so that file) share them too.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CIPHER_FILE = "access-keys.fernet"


def secret_file(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The contents of secret file `path` (mode 0600), written by `generate()` on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside then hard-link into place: two processes starting at once cannot both
        # create a secret, and nobody ever reads a half-written file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, generate())
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()


def load_cipher(data_dir: Path) -> Fernet:
    """The Fernet cipher of `data_dir`, creating its key file (0600) on first use."""
    return Fernet(secret_file(data_dir / CIPHER_FILE, Fernet.generate_key))


def derived_key(data_dir: Path, purpose: str) -> bytes:
    """A 32-byte key for `purpose` (its own, never the secrets' key itself), derived from
    `data_dir`'s access-key cipher file."""
    master = base64.urlsafe_b64decode(secret_file(data_dir / CIPHER_FILE, Fernet.generate_key))
    return HKDF(hashes.SHA256(), 32, salt=None, info=f"oversight {purpose}".encode()).derive(master)
