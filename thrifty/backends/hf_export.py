"""An embedded GGUF model as a Hugging Face directory, for servers that cannot read GGUF (vLLM).

Nothing comes from a model hub: the verified local GGUF is dequantised by ``transformers`` (with
``gguf`` and ``accelerate``, installed beside vLLM, never thrifty dependencies) into bf16 safetensors
plus its tokenizer and chat template. The directory is cached under the thrifty cache, keyed by the
GGUF's sha256, and written to a temporary name first, so a crash never leaves a half directory that
a later run would trust.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from thrifty.backends.embedded import EmbeddedModelSpec, assemble_model
from thrifty.errors import BackendUnavailable
from thrifty.paths import cache_dir

COMPLETE = ".thrifty-complete"


def hf_dir_for(spec: EmbeddedModelSpec) -> Path:
    """Where the conversion of ``spec`` lives (whether or not it exists yet)."""
    return cache_dir() / "hf" / f"{spec.name}-{spec.sha256[:16]}"


def export_hf(spec: EmbeddedModelSpec) -> Path:
    """The HF directory of ``spec``, converted from its GGUF on first use (about a minute on 2 cores)."""
    target = hf_dir_for(spec)
    if (target / COMPLETE).is_file():
        return target
    gguf = assemble_model(spec)
    try:
        import torch  # type: ignore[import-not-found,unused-ignore]
        from transformers import (  # type: ignore[import-not-found,unused-ignore]
            AutoModelForCausalLM,
            AutoTokenizer,
        )
    except ImportError as exc:
        raise BackendUnavailable(f"converting {spec.filename} needs transformers, gguf and torch: {exc}") from exc
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    # transformers >= 5 loads GGUF behind a quantizer that refuses to save even once every weight
    # is dequantised (no GGUF matmul kernel on CPU); the dense weights are what vLLM needs.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / COMPLETE).write_text(spec.sha256)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target
