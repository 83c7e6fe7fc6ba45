"""TensorFlow's start-up lines are held to its log level when a program imports the library
first, and nothing else written then is lost."""

import os
import subprocess
import sys

import pytest

from layer_rotation_tools import startup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = "import layer_rotation_tools, keras\nprint(float(keras.ops.sum(keras.ops.ones(3))))\n"
NOISE = ("absl::InitializeLog", "cudart_stub.cc", "cpu_feature_guard.cc", "To enable the following instructions",
         "port.cc", "oneDNN")


def _run(**environment):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(KERAS_BACKEND="tensorflow", PYTHONPATH=ROOT, **environment)
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "3.0"
    return done.stderr


@pytest.mark.tensorflow
@pytest.mark.own_interpreter
def test_a_program_importing_the_library_prints_no_start_up_lines():
    pytest.importorskip("tensorflow")
    printed = _run()
    assert not [line for line in printed.splitlines() if any(noise in line for noise in NOISE)], printed


@pytest.mark.tensorflow
@pytest.mark.own_interpreter
def test_log_level_zero_shows_tensorflow_start_up_lines_again():
    pytest.importorskip("tensorflow")
    assert "absl::InitializeLog" in _run(TF_CPP_MIN_LOG_LEVEL="0")


def test_warnings_errors_and_other_lines_written_while_held_come_through(capfd):
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1796269297.083678    3610 port.cc:153] oneDNN custom operations are on.\n",
        b"I0000 00:00:1796269297.128608    3610 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n",
        b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n",
        b"W0000 00:00:1796269297.128608    3610 gpu_device.cc:1] Cannot dlopen some GPU libraries.\n",
        b"E0000 00:00:1796269303.248215    3610 some_op.cc:52] a real error\n",
        b"/path/program.py:3: UserWarning: the user's own warning\n",
    ]
    with startup._standard_error_filtered(lambda line: startup._shown(line, level=1)):
        for line in lines:
            os.write(2, line)
    printed = capfd.readouterr().err
    assert printed.splitlines() == [line.decode().rstrip("\n") for line in lines[4:]]
