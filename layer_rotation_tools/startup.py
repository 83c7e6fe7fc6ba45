"""TensorFlow's start-up lines, held to the log level TensorFlow itself applies later.

TensorFlow's C++ logging honours `TF_CPP_MIN_LOG_LEVEL` only once abseil's logging is
initialised. The lines written before that (abseil's banner "All log messages before
absl::InitializeLog() is called are written to STDERR", the oneDNN note, "Could not find
cuda drivers", the CPU-instructions note and, on a machine without an NVIDIA device,
"failed call to cuInit") reach the terminal whatever the level, in every program that
imports Keras on its TensorFlow backend, and read like failures.

`import_keras` imports Keras with the process's standard error (file descriptor 2) held
in a file, initialises TensorFlow's devices there too (where the cuInit line is
written), then writes back every line the level lets through: warnings, errors and
anything that is not one of TensorFlow's log lines. The level is `TF_CPP_MIN_LOG_LEVEL`
as the user set it, else 1 (informational lines hidden), which is also set for the
rest of the process so that later informational lines (XLA's "service initialized",
"Compiled cluster using XLA!") follow the same rule. `TF_CPP_MIN_LOG_LEVEL=0` shows
everything. Nothing is held once Keras or TensorFlow was imported before; on the other
backends the import is held too, but writes none of these lines.
"""

import contextlib
import glob
import os
import re
import sys
import tempfile

#: TensorFlow's (abseil's) log line: severity letter, date, time, thread, file:line].
_LOG_LINE = re.compile(rb"^([IWEF])\d{4} [0-9:.]+\s+\d+ [^\]]+\] ")
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
#: Written on every machine without an NVIDIA device: says only that there is none.
_NO_DEVICE = b"failed call to cuInit"
#: The second line of the CPU-instructions note (cpu_feature_guard.cc), which shares its fate.
_CONTINUATION = b"To enable the following instructions"


def import_keras():
    """Import Keras (and so the backend's framework) with TensorFlow's start-up lines
    held to the log level; returns the `keras` module."""
    if "tensorflow" in sys.modules or "keras" in sys.modules:
        import keras

        return keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    level = _level(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    with _standard_error_filtered(lambda line: _shown(line, level)):
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices()  # where "failed call to cuInit" is written
    return keras


def _level(text):
    try:
        return int(text)
    except ValueError:
        return 0


def _shown(line, level):
    """Whether a line written during the import passes `level`: TensorFlow's log lines by
    their severity, abseil's banner only where nothing is hidden, the cuInit failure
    only where an NVIDIA device exists, every other line always."""
    if line.startswith(_BANNER):
        return level == 0
    match = _LOG_LINE.match(line)
    if match is None:
        return True
    if _NO_DEVICE in line and not glob.glob("/dev/nvidia[0-9]*"):
        return level == 0
    return _SEVERITY[match.group(1)] >= level


@contextlib.contextmanager
def _standard_error_filtered(shown):
    """File descriptor 2 goes to a temporary file inside the block; afterwards, the lines
    for which `shown(line)` holds are written to the real standard error (a known
    continuation line with the line before it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            keep = True
            for line in held.read().splitlines(keepends=True):
                keep = keep if line.startswith(_CONTINUATION) else shown(line)
                if keep:
                    os.write(2, line)
