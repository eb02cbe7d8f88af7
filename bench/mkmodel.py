#!/usr/bin/env python3
"""Writes a random-weight GGUF model of a real model's shape, streaming
tensor by tensor (a 1B-parameter model never sits in memory twice).

Weights follow ../shared/tools/mkgguf.py's scheme (matrices N(0, 1/n_in),
norms 1 + 0.1 N(0,1), biases 0.1 N(0,1)), stored as F16 so the file is half
the size of F32; `hoheit quantize` then makes the quantized variants.

The vocabulary is SentencePiece-style: copied from a donor GGUF if it has
exactly n_vocab tokens, else synthesized (<unk>, <s>, </s>, 256 byte tokens,
then placeholder pieces), so llama.cpp loads the same file.

usage: mkmodel.py --arch llama|qwen2|qwen3|qwen3moe --out F --n-vocab V --n-embd E
                  --n-ff F --n-head H --n-head-kv K --n-layer L [--donor G]
                  [--seed S] [--tied] [--head-dim D]
                  [--n-expert N --n-expert-used K --n-ff-exp F]   (qwen3moe)

qwen3moe: qwen3 attention, router ffn_gate_inp (F32, kept by quantize) and
stacked experts ffn_{gate,up}_exps [E, n_ff_exp, N], ffn_down_exps
[n_ff_exp, E, N] (GGUF order), each expert N(0, 1/n_in).
"""
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools"))

T_U32, T_I32, T_F32, T_STR, T_ARR = 4, 5, 6, 8, 9
F32, F16 = 0, 1
ALIGN = 32


def w_str(f, s):
    b = s.encode("utf-8")
    f.write(struct.pack("<Q", len(b)))
    f.write(b)


def w_kv(f, key, vt, v, et=None):
    w_str(f, key)
    f.write(struct.pack("<I", vt))
    if vt == T_STR:
        w_str(f, v)
    elif vt == T_ARR:
        f.write(struct.pack("<IQ", et, len(v)))
        if et == T_STR:
            for s in v:
                w_str(f, s)
        else:
            f.write(np.asarray(v).astype({T_F32: "<f4", T_I32: "<i4", T_U32: "<u4"}[et]).tobytes())
    elif vt == T_U32:
        f.write(struct.pack("<I", v))
    elif vt == T_F32:
        f.write(struct.pack("<f", v))
    else:
        raise ValueError(vt)


def vocab_spm(n):
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    types = [2, 3, 3] + [6] * 256
    i = 0
    while len(toks) < n:
        toks.append("\u2581t%d" % i)
        types.append(1)
        i += 1
    scores = [0.0] * 259 + [-float(k) for k in range(n - 259)]
    return toks[:n], scores[:n], types[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, choices=["llama", "qwen2", "qwen3", "qwen3moe"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-vocab", type=int, required=True)
    ap.add_argument("--n-embd", type=int, required=True)
    ap.add_argument("--n-ff", type=int, required=True)
    ap.add_argument("--n-head", type=int, required=True)
    ap.add_argument("--n-head-kv", type=int, required=True)
    ap.add_argument("--n-layer", type=int, required=True)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--donor")
    ap.add_argument("--head-dim", type=int, default=0)
    ap.add_argument("--n-expert", type=int, default=0)
    ap.add_argument("--n-expert-used", type=int, default=0)
    ap.add_argument("--n-ff-exp", type=int, default=0)
    a = ap.parse_args()

    E, FF, H, HKV, L, V = a.n_embd, a.n_ff, a.n_head, a.n_head_kv, a.n_layer, a.n_vocab
    D = a.head_dim or E // H
    EQ = D * H
    EKV = D * HKV
    arch = a.arch
    moe = arch == "qwen3moe"
    NX, FX = a.n_expert, a.n_ff_exp
    if moe and not (NX > 0 and 0 < a.n_expert_used <= NX and FX > 0):
        ap.error("qwen3moe needs --n-expert, --n-expert-used (<= n-expert) and --n-ff-exp")
    toks = scores = types = None
    if a.donor:
        from mkgguf import GGUFFile
        g = GGUFFile(a.donor)
        t = g.get("tokenizer.ggml.tokens")
        if t is not None and len(t) == V:
            toks, scores, types = list(t), list(g.get("tokenizer.ggml.scores")), list(g.get("tokenizer.ggml.token_type"))
    if toks is None:
        toks, scores, types = vocab_spm(V)

    kv = [
        ("general.architecture", T_STR, arch, None),
        ("general.name", T_STR, "bench-%s-e%d-l%d" % (arch, E, L), None),
        ("general.alignment", T_U32, ALIGN, None),
        ("general.file_type", T_U32, 1, None),
        (arch + ".context_length", T_U32, a.ctx, None),
        (arch + ".embedding_length", T_U32, E, None),
        (arch + ".block_count", T_U32, L, None),
        (arch + ".feed_forward_length", T_U32, FF, None),
        (arch + ".attention.head_count", T_U32, H, None),
        (arch + ".attention.head_count_kv", T_U32, HKV, None),
        (arch + ".attention.layer_norm_rms_epsilon", T_F32, 1e-5 if arch == "llama" else 1e-6, None),
        (arch + ".rope.freq_base", T_F32, 10000.0 if arch == "llama" else 1e6, None),
        (arch + ".rope.dimension_count", T_U32, D, None),
        (arch + ".attention.key_length", T_U32, D, None),
        (arch + ".attention.value_length", T_U32, D, None),
    ]
    if moe:
        kv += [(arch + ".expert_count", T_U32, NX, None),
               (arch + ".expert_used_count", T_U32, a.n_expert_used, None),
               (arch + ".expert_feed_forward_length", T_U32, FX, None)]
    kv += [
        ("tokenizer.ggml.model", T_STR, "llama", None),
        ("tokenizer.ggml.tokens", T_ARR, toks, T_STR),
        ("tokenizer.ggml.scores", T_ARR, scores, T_F32),
        ("tokenizer.ggml.token_type", T_ARR, types, T_I32),
        ("tokenizer.ggml.bos_token_id", T_U32, 1, None),
        ("tokenizer.ggml.eos_token_id", T_U32, 2, None),
        ("tokenizer.ggml.unknown_token_id", T_U32, 0, None),
    ]

    # (name, shape as numpy (outer..inner), kind, n_in)
    ts = [("token_embd.weight", (V, E), "emb", E)]
    for i in range(L):
        p = "blk.%d." % i
        ts += [(p + "attn_norm.weight", (E,), "norm", 0),
               (p + "attn_q.weight", (EQ, E), "mat", E),
               (p + "attn_k.weight", (EKV, E), "mat", E),
               (p + "attn_v.weight", (EKV, E), "mat", E),
               (p + "attn_output.weight", (E, EQ), "mat", EQ)]
        if arch == "qwen2":
            ts += [(p + "attn_q.bias", (E,), "bias", 0), (p + "attn_k.bias", (EKV,), "bias", 0),
                   (p + "attn_v.bias", (EKV,), "bias", 0)]
        if arch in ("qwen3", "qwen3moe"):
            ts += [(p + "attn_q_norm.weight", (D,), "norm", 0), (p + "attn_k_norm.weight", (D,), "norm", 0)]
        if moe:
            ts += [(p + "ffn_norm.weight", (E,), "norm", 0),
                   (p + "ffn_gate_inp.weight", (NX, E), "router", E),
                   (p + "ffn_gate_exps.weight", (NX, FX, E), "mat", E),
                   (p + "ffn_up_exps.weight", (NX, FX, E), "mat", E),
                   (p + "ffn_down_exps.weight", (NX, E, FX), "mat", FX)]
            continue
        ts += [(p + "ffn_norm.weight", (E,), "norm", 0),
               (p + "ffn_gate.weight", (FF, E), "mat", E),
               (p + "ffn_up.weight", (FF, E), "mat", E),
               (p + "ffn_down.weight", (E, FF), "mat", FF)]
    ts.append(("output_norm.weight", (E,), "norm", 0))
    if not a.tied:
        ts.append(("output.weight", (V, E), "out", E))

    def dtype_of(kind):
        return F16 if kind in ("mat", "emb", "out") else F32

    def nbytes(shape, t):
        return int(np.prod(shape)) * (2 if t == F16 else 4)

    rng = np.random.default_rng(a.seed)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"GGUF")
        f.write(struct.pack("<IQQ", 3, len(ts), len(kv)))
        for k in kv:
            w_kv(f, *k)
        off = 0
        offs = []
        for name, shape, kind, n_in in ts:
            offs.append(off)
            w_str(f, name)
            ne = list(reversed(shape))
            f.write(struct.pack("<I", len(ne)))
            f.write(struct.pack("<%dQ" % len(ne), *ne))
            f.write(struct.pack("<IQ", dtype_of(kind), off))
            off += nbytes(shape, dtype_of(kind))
            off = (off + ALIGN - 1) // ALIGN * ALIGN
        pad = (-f.tell()) % ALIGN
        f.write(b"\0" * pad)
        base = f.tell()
        for (name, shape, kind, n_in), o in zip(ts, offs):
            f.write(b"\0" * (base + o - f.tell()))
            if kind == "norm":
                x = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
            elif kind == "bias":
                x = 0.1 * rng.standard_normal(shape, dtype=np.float32)
            elif kind == "emb":
                x = rng.standard_normal(shape, dtype=np.float32)
            else:
                x = rng.standard_normal(shape, dtype=np.float32) * np.float32(1.0 / np.sqrt(n_in))
            f.write(x.astype("<f2" if dtype_of(kind) == F16 else "<f4").tobytes())
            del x
        f.write(b"\0" * ((-f.tell()) % ALIGN))
    os.replace(tmp, a.out)
    print("wrote %s (%d tensors, %.1f MiB)" % (a.out, len(ts), os.path.getsize(a.out) / 1048576.0))


if __name__ == "__main__":
    main()
