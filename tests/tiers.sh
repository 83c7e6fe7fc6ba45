#!/usr/bin/env bash
# The test suite in four parts, with whichever Python runs this script's `python3` (a
# virtual or conda environment, or the system's): the whole suite on TensorFlow; the fast
# tier on JAX and on PyTorch; the fast tier on TensorFlow with the oldest Keras supported,
# 3.10.0, installed into .keras-oldest/ and placed first on the path of the same
# interpreter (so it sees every other package of the environment the user is in).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
fast=(-q -n 2 -m "not slow and not own_interpreter" --durations=5)
"$python" -m pytest -q -n 2 --dist loadgroup --durations=20
KERAS_BACKEND=jax "$python" -m pytest "${fast[@]}"
KERAS_BACKEND=torch "$python" -m pytest "${fast[@]}"
"$python" -m pip install -q --no-deps --upgrade --target .keras-oldest keras==3.10.0
PYTHONPATH=.keras-oldest "$python" -m pytest "${fast[@]}"
