#!/usr/bin/env bash
# The test command: the whole suite on TensorFlow, then the backend-neutral parts on JAX and PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
KERAS_BACKEND=tensorflow python3 -m pytest -q tests
KERAS_BACKEND=jax python3 -m pytest -q tests/layers
KERAS_BACKEND=torch python3 -m pytest -q tests/layers
