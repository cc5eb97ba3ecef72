#!/usr/bin/env python3
"""A llama2.c checkpoint and tokenizer of stories15M's shape with random weights (numpy, seed 0), for timing
run.c against `./steer bench generate` on the same weights: weights ~ N(0, 0.02), norms 1, run.c's RoPE tables;
the tokenizer is 3 specials, 256 byte tokens and placeholder pieces up to 32,000.

    python3 scripts/random-llama2c.py OUT_DIR   # writes OUT_DIR/s15m.bin and OUT_DIR/tok15m.bin
    ./steer convert-llama2c --model OUT_DIR/s15m.bin --tokenizer OUT_DIR/tok15m.bin --out build-out/s15m
"""
import os
import struct
import sys

import numpy as np

dim, hidden, layers, heads, kv_heads, vocab, seq_len = 288, 768, 6, 6, 6, 32000, 256
out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def w(*shape):
    return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)


head = dim // heads
with open(os.path.join(out, "s15m.bin"), "wb") as f:
    f.write(struct.pack("7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len))   # positive vocab: shared head
    for a in [w(vocab, dim), np.ones((layers, dim), np.float32), w(layers, dim, dim), w(layers, dim, dim),
              w(layers, dim, dim), w(layers, dim, dim), np.ones((layers, dim), np.float32),
              w(layers, hidden, dim), w(layers, dim, hidden), w(layers, hidden, dim), np.ones(dim, np.float32)]:
        f.write(a.tobytes())
    t = np.outer(np.arange(seq_len), 1.0 / (10000.0 ** (np.arange(0, head, 2) / head)))
    f.write(np.cos(t).astype(np.float32).tobytes())
    f.write(np.sin(t).astype(np.float32).tobytes())
pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
pieces += ["t%d" % i for i in range(vocab - len(pieces))]
with open(os.path.join(out, "tok15m.bin"), "wb") as f:
    f.write(struct.pack("i", max(len(p) for p in pieces)))
    for i, p in enumerate(pieces):
        b = p.encode()
        f.write(struct.pack("fi", -float(i), len(b)))
        f.write(b)
