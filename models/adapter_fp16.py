#!/usr/bin/env python3
"""Shrink the trained adapter to the committed artefact: LoRA A/B matrices in
float16, every other tensor (LayerNorms, biases, classifier) kept in float32.

The LoRA factors are most of the adapter's bytes but only form a small delta
(alpha/r * B @ A) added to the base weights; float16 rounding of that delta
changes logits by ~1e-4 (checked with verify_adapter.py, numbers in
models/README.md). Runtimes upcast to float32 before merging.

    python3 models/adapter_fp16.py IN.safetensors OUT.safetensors
"""
import hashlib
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def main(src, dst):
    with safe_open(src, "np") as f:
        meta = dict(f.metadata() or {})
    tensors = load_file(src)
    out = {}
    for name, value in tensors.items():
        is_lora = name.endswith(".lora_A") or name.endswith(".lora_B")
        out[name] = value.astype(np.float16 if is_lora else np.float32)
    meta["dtype"] = "lora float16, others float32"
    save_file(out, dst, metadata=meta)
    digest = hashlib.sha256(open(dst, "rb").read()).hexdigest()
    print(f"{dst}: {sum(v.nbytes for v in out.values())} bytes of tensors, sha256 {digest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
