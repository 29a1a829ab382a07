#!/usr/bin/env bash
# Installs keras_snnkd with all three backends into ./.venv (created if missing).
#   ./install.sh         library + TensorFlow, JAX, PyTorch (CPU) + offline data + export tools
#   ./install.sh test    the same plus the test tools, the peer libraries and the docs tools
# Needs only Python >= 3.10. PyTorch's CPU build is pinned first: a bare `torch`
# requirement with no torch installed pulls several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" "torch==2.13.0"
extras="all"
if [ "${1:-}" = "test" ]; then
    extras="all,test,docs"
fi
"${pip[@]}" -e ".[${extras}]"
if [ "${1:-}" = "test" ]; then
    # SpikingJelly (a test peer) declares torchvision/torchaudio, which would
    # replace the CPU torch with a CUDA build; its activation_based modules
    # need only what the test extra already installed.
    "${pip[@]}" --no-deps "spikingjelly>=0.0.0.0.14"
    # syops-counter (the peer operation counter of benchmarks/cost_vs_peer.py)
    # declares a bare torch requirement too.
    "${pip[@]}" --no-deps "syops==0.0.5" progress
fi
echo "keras_snnkd installed in $(pwd)/.venv"
