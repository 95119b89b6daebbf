"""A CPU torch MLP (256 -> H -> H -> 10) scored per request (run) or stacked (run_batch).

One request is ``{"data": [256 floats]}``; the answer is the 10 logits and the arg-max. Weights
come from a fixed seed, so every replica (and the in-process floor) computes the same thing.
Each replica uses BENCH_TORCH_THREADS intra-op threads (1 by default: 2 replicas on 2 cores).
H is BENCH_MLP_HIDDEN (1024 by default): small enough that HTTP overhead rivals the forward pass;
4096 makes one item's pass memory-bound (weights re-read per item), the regime batching is for.
Inputs go through ``array('f')`` + ``torch.frombuffer``: ``torch.tensor(list)`` costs more than
the batched forward pass itself, and both paths use the same conversion.
"""

import json
import os
from array import array

import torch

model = None


def init():
    global model
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
    torch.manual_seed(0)
    hidden = int(os.environ.get("BENCH_MLP_HIDDEN", "1024"))
    model = torch.nn.Sequential(
        torch.nn.Linear(256, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10),
    ).eval()


def _forward(flat, rows):
    x = torch.frombuffer(array("f", flat), dtype=torch.float32).view(rows, -1)
    with torch.inference_mode():
        return model(x)


def _answer(logits):
    return {"logits": [round(v, 5) for v in logits.tolist()], "label": int(logits.argmax())}


def run(raw):
    return _answer(_forward(json.loads(raw)["data"], 1)[0])


def run_batch(raws):
    flat = []
    for raw in raws:
        flat += json.loads(raw)["data"]
    return [_answer(row) for row in _forward(flat, len(raws))]
