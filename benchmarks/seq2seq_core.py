"""seq2seq_attention.dates' id-level core in LiteRT and ONNX, against the SavedModel's greedy translations.

    python benchmarks/seq2seq_core.py          # ~3 min on 2 cores; writes benchmarks/results/seq2seq_core.json

The core (`kerazoo.models.seq2seq.tf_export.id_core`) takes source ids (`vectorizer.encode_source`) and
gives the greedy target ids, encoder and decoder as `tf.while_loop`s over constant-weight GRU steps
with Luong attention. It is converted as `kerazoo export` converts every core (`kerazoo.formats`: LiteRT
builtins only, float32; tf2onnx), each file is run by its own runtime in a child process on the whole
dates test split (the card's recipe and seed), and its ids, joined into strings, are compared with
what the artifact's SavedModel translates from the raw strings.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = """
import sys, numpy as np
fmt, path, ids = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
if fmt == "litert":
    from ai_edge_litert.interpreter import Interpreter
    run = Interpreter(model_path=path).get_signature_runner("serving_default")
    out = np.concatenate([run(source=ids[i:i + 256])["tokens"] for i in range(0, len(ids), 256)])
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = np.concatenate([session.run(None, {name: ids[i:i + 256]})[0] for i in range(0, len(ids), 256)])
np.save(sys.argv[4], out)
"""


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    import kerazoo
    from kerazoo.data.dates import date_splits
    from kerazoo.formats import _litert, _onnx, _saved_core
    from kerazoo.models.seq2seq.tf_export import id_core

    name = "seq2seq_attention.dates"
    model = kerazoo.get(name)
    card = json.loads((REPO / "saved_models" / name / "card.json").read_text())
    pairs = date_splits(**card["recipe"]["data"], seed=card["seed"])["test"]
    sources = np.array([p.source for p in pairs], object)
    reference = kerazoo.get(name, format="saved_model").run(sources)["translation"]
    vec = model.vectorizer
    ids = vec.encode_source(list(sources)).numpy()
    core = tf.function(id_core(model), input_signature=[tf.TensorSpec((None, None), tf.int32, name="source")])

    def text(rows):
        return np.array([vec.join(vec.decode_tokens(r)) for r in rows], object)

    result = {"artifact": name, "test_inputs": len(sources), "formats": {}}
    result["formats"]["tensorflow_core"] = {"agreement": float(np.mean(text(core(ids)["tokens"].numpy()) == reference))}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _saved_core(core, [], tmp / "core")
        np.save(tmp / "ids.npy", ids)
        files = {"litert": tmp / "model.tflite", "onnx": tmp / "model.onnx"}
        files["litert"].write_bytes(_litert(tmp / "core"))
        opset = _onnx(core, files["onnx"])
        for fmt, path in files.items():
            started = time.time()
            done = subprocess.run([sys.executable, "-c", CHILD, fmt, str(path), str(tmp / "ids.npy"),
                                   str(tmp / f"{fmt}.npy")], capture_output=True, text=True)
            entry = {"bytes": path.stat().st_size, "returncode": done.returncode,
                     "seconds": round(time.time() - started, 1)}
            if fmt == "onnx":
                entry["opset"] = opset
            if done.returncode == 0:
                entry["agreement"] = float(np.mean(text(np.load(tmp / f"{fmt}.npy")) == reference))
            else:
                entry["error"] = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
            result["formats"][fmt] = entry
    out = REPO / "benchmarks" / "results" / "seq2seq_core.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
