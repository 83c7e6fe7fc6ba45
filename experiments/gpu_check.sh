#!/usr/bin/env bash
# The GPU check in one command, for a machine with a GPU and no network:
#
#   bash experiments/gpu_check.sh DATA [MINUTES] [more options of python -m experiments.gpu_check]
#
# DATA: CIFAR-10 as its class-folder .tar.gz or folder, or the official python version.
# Installs nothing from the network: where Keras does not import and a folder .whl/ in the
# repository holds wheels (Keras and what it needs beyond the machine's packages), they
# are installed into a folder of their own and put on the path first. The backend is KERAS_BACKEND, else JAX
# where it imports with Keras, else PyTorch. Results and the report go to
# notebooks/results/<scale>/ (python -m experiments.gpu_check --help).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bash experiments/gpu_check.sh DATA [MINUTES] [options]}
minutes=${2:-9}
shift $(( $# >= 2 ? 2 : 1 ))
python=${PYTHON:-python3}
if ! "$python" -c "import keras" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
  site=${WHEEL_SITE:-$(mktemp -d)/site}
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "${KERAS_BACKEND:-}" ]; then
  for candidate in jax torch; do
    if CUDA_VISIBLE_DEVICES="" KERAS_BACKEND=$candidate "$python" -c "import keras" 2>/dev/null; then
      export KERAS_BACKEND=$candidate
      break
    fi
  done
fi
echo "+ KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} python -m experiments.gpu_check --data-dir $data --minutes $minutes $*"
export PYTHONUNBUFFERED=1
exec "$python" -m experiments.gpu_check --data-dir "$data" --minutes "$minutes" "$@"
