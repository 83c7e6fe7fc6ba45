"""Files written atomically: a reader, or a crash, sees the old file or the new one,
never half of one.

`atomic_path` is the one way this toolkit writes a file it keeps (results, checkpoints,
caches): written beside its destination under a temporary name, flushed to disk, then
renamed over the destination (`os.replace` is atomic on POSIX and Windows).
"""

import contextlib
import json
import os
import tempfile

import h5py
import numpy as np


class ResultsFileError(ValueError):
    """A results file that exists but cannot be read (truncated, not HDF5, incomplete)."""


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """A temporary path beside `path` (ending in `suffix`, for writers that check it) for
    the block to write the file to. When the block ends without an error, the file is
    flushed to disk (fsync), given the permissions of a file created normally (not
    `mkstemp`'s 0600) and renamed over `path`; on an error it is removed, and `path` is
    left as it was."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(handle)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def write_h5_atomic(path, arrays, attrs=None):
    """Write `{name: array}` datasets and `{name: value}` attributes to `path` atomically
    (`atomic_path`).

    Attribute values are stored as JSON text, so nested lists and dicts round-trip.
    """
    with atomic_path(path, suffix=".h5") as tmp_path, h5py.File(tmp_path, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=np.asarray(value))
        for name, value in (attrs or {}).items():
            f.attrs[name] = json.dumps(value)
        f.attrs["complete"] = True


def read_h5(path):
    """Read a file written by `write_h5_atomic`: `(arrays, attrs)` as dicts.

    Raises FileNotFoundError for a missing file and ResultsFileError for one that is
    unreadable, naming the file and what to do about it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No results file at {path!r}.")
    try:
        with h5py.File(path, "r") as f:
            if not f.attrs.get("complete", False):
                raise ResultsFileError(f"{path!r} is incomplete (no 'complete' mark).")
            arrays = {name: f[name][()] for name in f}
            attrs = {name: json.loads(value) for name, value in f.attrs.items() if name != "complete"}
    except ResultsFileError as error:
        raise ResultsFileError(f"{error} Delete it to recompute it.") from None
    except (OSError, KeyError, ValueError) as error:
        raise ResultsFileError(
            f"Results file {path!r} is unreadable (truncated, or not written by this toolkit): "
            f"{error}. Delete it to recompute it."
        ) from None
    return arrays, attrs
