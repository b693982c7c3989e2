"""Minimal reproduction: why ai-edge-litert aborted imdb_gru.imdb's full-integer file (SIGABRT, no message).

    python benchmarks/repro/gru_int8_abort.py            # ~8 min on 2 cores (each conversion in its own process)

Each case is converted in a child process (TensorFlow's converter itself crashes on some) with kerazoo's
int8 settings (`kerazoo.formats._litert`: `TFLITE_BUILTINS_INT8`, `Optimize.DEFAULT`, a representative data
set of 8 batches, int8 output) or the ones named, then run by ai-edge-litert 2.3.0 in another child
process (return code -6: SIGABRT) on several batch sizes, lengths, numbers of invocations and APIs, and
compared with the float function on the same inputs. Measured (TF 2.21, 2026-12-06):

     # cell             pooling    reads    mask  cal.pad shape        quantisation  result
     0 gru              max-lowest backward True  True    dynamic      full-int      SIGABRT (-6) on all 4 runs
     1 gru              max-lowest backward True  True    fixed        full-int      converter: SIGSEGV
     2 gru              max-lowest forward  True  True    dynamic      full-int      runs, |file-float| <= 0.004
     3 gru              max-lowest backward True  False   dynamic      full-int      runs, |file-float| <= 0.021
     4 gru              max-lowest backward False True    dynamic      full-int      runs, |file-float| <= 0.004
     5 gru              max-lowest backward True  True    dynamic      int8-fallback SIGABRT (-6) on all 4 runs
     6 gru              max-lowest backward True  True    dynamic      dynamic-range runs, |file-float| <= 0.000
     7 gru              max-lowest backward True  True    dynamic      float         runs, |file-float| <= 0.000
     8 gru              max-first  backward True  True    dynamic      full-int      runs, |file-float| <= 0.004
     9 gru              last       backward True  True    dynamic      full-int      runs, |file-float| <= 0.012
    10 lstm             max-lowest backward True  True    dynamic      full-int      runs, |file-float| <= 0.030
    11 lstm             max-first  backward True  True    dynamic      full-int      runs, |file-float| <= 0.002
    12 rnn              max-lowest backward True  True    dynamic      full-int      runs, |file-float| <= 0.347
    13 keras-gru        max-lowest backward True  True    fixed-length full-int      converter: TensorList not lowered
    14 keras-gru-unroll max-lowest backward True  True    fixed-length full-int      converter: variable != nullptr
    runs: 1x6 once, 8x200 once, 1x6 50 times (signature runner), 4x30 by resize_tensor_input

Findings:
- The abort is in `tflite::ops::builtin::add::Prepare` -> `tflite::QuantizeMultiplierSmallerThanOneExp`
  (gdb backtrace of imdb_gru.imdb's file), while the WHILE kernel prepares its body on the first
  `invoke`, whatever the input: batch, length, invocations, signature runner or `resize_tensor_input`.
- Cause: a max-pooling accumulator that starts at float32's lowest value (-3.4e38) and is kept over
  masked steps (case 0). The calibrator gives a MAXIMUM's inputs and output one scale; a direction that
  reads padding first (the backward one over trailing padding, with padded calibration batches) keeps
  -3.4e38 in the pool, so the recurrent output feeding MAXIMUM gets the scale 1.33e36. A GRU's new state
  is an ADD (`z * h + (1 - z) * candidate`) whose output multiplier is then about 5e-46 (most likely
  computed as 0: `(1 << 20) * 1.33e36` overflows float32), which the TFLITE_CHECK refuses: abort().
  Without masking, without padding in calibration, reading forward, or pooling the last state, it runs
  (cases 2-4, 9). int8 with float fallback quantises the same ADD and aborts too (5); float and
  dynamic-range files (int8 weights, float activations) run (6, 7).
- An LSTM or SimpleRNN loop (its output a MUL or TANH) is not refused: the same scale silently turns that
  direction's output into one constant (10 vs 11; 12). kerazoo's shipped imdb_lstm.imdb and imdb_rnn.imdb
  int8 files (exported before the fix) carry the 1.33e36 scale on their backward outputs
  (`while/mul_9`, `while/Tanh_11`).
- The fix (8, 11): the pool starts at each direction's first unmasked output (kerazoo's loop since then).
  imdb_gru.imdb's int8 file, re-exported with it: accuracy 0.90828 on the 25,000 test reviews (float
  0.90768), same top-1 answer as the SavedModel on 99.64 %.
- Keras' own GRU layer is no alternative: its loop is TensorList ops the builtins cannot lower (13);
  unrolled, this harness's conversion fails on a resource variable during calibration (14); a fixed
  batch and length make the converter crash with SIGSEGV (1).

Upstream: tensorflow/tensorflow#60815 ("int8 quantization fails with Aborted (core dumped) because
real_output_multiplier > 1 in tensorflow/lite/kernels/add.cc") reports the same silent abort at the same
check for an ADD multiplier >= 1; its fix, PR #61698, was closed unmerged, and #62618 (a full-integer
model aborting on allocate_tensors) points to it. No report found for the out-of-range multiplier that
a float32-lowest constant produces (searched: "tflite int8 GRU abort", "TensorListReserve quantize",
"while loop int8 litert", "QuantizeMultiplierSmallerThanOneExp abort").
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's kerazoo

VOCAB, EMBED, UNITS, CAL_LENGTH = 50, 8, 8, 20
RUNS = [  # (batch, length, invocations, api) each child runs
    (1, 6, 1, "signature"), (8, 200, 1, "signature"), (1, 6, 50, "signature"), (4, 30, 1, "resize")]


def _child(path: str, batch: int, length: int, invocations: int, api: str) -> None:
    """Runs a file with ai-edge-litert's interpreter; prints its last output as JSON."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    rng = np.random.default_rng(1)
    out = None
    for _ in range(invocations):
        x = rng.integers(1, VOCAB, (batch, length)).astype("int32")
        x *= np.arange(length) < rng.integers(1, length + 1, (batch, 1))  # trailing padding
        if api == "signature":
            out = next(iter(interpreter.get_signature_runner("serving_default")(tokens=x).values()))
        else:
            detail = interpreter.get_input_details()[0]
            interpreter.resize_tensor_input(detail["index"], x.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(detail["index"], x)
            interpreter.invoke()
            out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        scale, zero = interpreter.get_output_details()[0]["quantization"]
        out = (out.astype("float32") - zero) * scale if scale else out
    print(json.dumps({"x_seed": 1, "out": np.asarray(out, "float64").ravel().tolist()}))


def _loop(cell: str, pooling: str, direction: str, masked: bool):
    """A one-layer recurrent classifier on token ids as one tf.while_loop (kerazoo's IMDB core, reduced):
    embedding -> GRU/LSTM/SimpleRNN read `direction` -> pooling -> sigmoid. `pooling`: "max-lowest"
    (the pool starts at float32's lowest value, as kerazoo's loop did), "max-first" (starts at the first
    unmasked output, the fix) or "last" (the final state)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    gates = {"gru": 3, "lstm": 4, "rnn": 1}[cell]
    table = rng.normal(0, 0.5, (VOCAB, EMBED)).astype("float32")
    kernel = rng.normal(0, 0.4, (EMBED, gates * UNITS)).astype("float32")
    recurrent = rng.normal(0, 0.4, (UNITS, gates * UNITS)).astype("float32")
    head = rng.normal(0, 0.4, (UNITS, 1)).astype("float32")
    lowest = np.float32(np.finfo(np.float32).min)

    def step(xp, h, c):
        if cell == "gru":
            xz, xr, xh = tf.split(xp, 3, -1)
            rz, rr, rh = tf.split(tf.matmul(h, recurrent), 3, -1)
            z, r = tf.sigmoid(xz + rz), tf.sigmoid(xr + rr)
            h = z * h + (1.0 - z) * tf.tanh(xh + r * rh)  # an ADD: what the interpreter refuses to prepare
            return h, c
        if cell == "lstm":
            i, f, g, o = tf.split(xp + tf.matmul(h, recurrent), 4, -1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c  # a MUL
        return tf.tanh(xp + tf.matmul(h, recurrent)), c

    def run(ids):
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        xp = tf.transpose(tf.reshape(tf.matmul(tf.reshape(tf.gather(table, ids), [-1, EMBED]), kernel),
                                     [batch, length, gates * UNITS]), [1, 0, 2])
        mask = tf.not_equal(ids, 0) if masked else tf.ones_like(ids, tf.bool)
        mask_t = tf.expand_dims(tf.transpose(tf.cast(mask, tf.float32)), -1)
        zeros = tf.zeros([batch, UNITS])
        pooled = tf.fill([batch, UNITS], lowest) if pooling == "max-lowest" else zeros

        def body(t, h, c, pooled, seen):
            at = t if direction == "forward" else length - 1 - t
            m = tf.gather(mask_t, at)
            new_h, new_c = step(tf.gather(xp, at), h, c)
            h, c = m * new_h + (1.0 - m) * h, m * new_c + (1.0 - m) * c
            if pooling == "max-lowest":
                pooled = tf.where(m > 0, tf.maximum(pooled, new_h), pooled)
            elif pooling == "max-first":
                pooled = tf.where(m > 0, tf.where(seen, tf.maximum(pooled, new_h), new_h), pooled)
            return t + 1, h, c, pooled, seen | (m > 0)

        _, h, _, pooled, _ = tf.while_loop(lambda t, *_: t < length, body,
                                           [tf.constant(0), zeros, zeros, pooled, tf.zeros([batch, 1], tf.bool)])
        features = h if pooling == "last" else tf.where(tf.reduce_any(mask, 1, keepdims=True), pooled, 0.0)
        return {"predictions": tf.sigmoid(tf.matmul(features, head))}

    return run


def _keras_gru(unroll: bool):
    """The same network from Keras layers: Embedding(mask_zero) -> GRU(8, backward) -> max over unmasked
    steps -> Dense, on a fixed length (Keras' GRU loop is TensorList ops otherwise)."""
    import keras

    from kerazoo.models.imdb_rnn.model import MaskedGlobalMaxPooling1D

    keras.utils.set_random_seed(0)
    inputs = keras.Input((CAL_LENGTH,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, EMBED, mask_zero=True)(inputs)
    x = keras.layers.GRU(UNITS, return_sequences=True, go_backwards=True, unroll=unroll)(x)
    x = MaskedGlobalMaxPooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    fn = lambda ids: {"predictions": model(ids, training=False)}  # noqa: E731
    fn.model = model  # tracked by the SavedModel
    return fn, (None, CAL_LENGTH)


def _convert(fn, shape, quant: str, padded: bool, folder: Path) -> bytes:
    """kerazoo's converter settings (`kerazoo.formats._litert`) for `quant="full-int"`; the others for comparison."""
    import tensorflow as tf

    function = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.int32, name="tokens")])
    module = tf.Module()
    module.model = getattr(fn, "model", None)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": function})
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(8):
        x = rng.integers(1, VOCAB, (shape[0] or 8, CAL_LENGTH)).astype("int32")
        if padded:
            x *= np.arange(CAL_LENGTH) < rng.integers(1, CAL_LENGTH + 1, (len(x), 1))
        batches.append(x)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quant != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant in ("full-int", "int8-fallback"):
        converter.representative_dataset = lambda: ([b] for b in batches)
    if quant == "full-int":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_output_type = tf.int8
    return converter.convert()


CASES = [  # (model, pooling, direction, masked, padded calibration, shape, quantisation)
    ("gru", "max-lowest", "backward", True, True, "dynamic", "full-int"),    # imdb_gru.imdb's backward half
    ("gru", "max-lowest", "backward", True, True, "fixed", "full-int"),
    ("gru", "max-lowest", "forward", True, True, "dynamic", "full-int"),
    ("gru", "max-lowest", "backward", True, False, "dynamic", "full-int"),
    ("gru", "max-lowest", "backward", False, True, "dynamic", "full-int"),
    ("gru", "max-lowest", "backward", True, True, "dynamic", "int8-fallback"),
    ("gru", "max-lowest", "backward", True, True, "dynamic", "dynamic-range"),
    ("gru", "max-lowest", "backward", True, True, "dynamic", "float"),
    ("gru", "max-first", "backward", True, True, "dynamic", "full-int"),     # the fix
    ("gru", "last", "backward", True, True, "dynamic", "full-int"),
    ("lstm", "max-lowest", "backward", True, True, "dynamic", "full-int"),
    ("lstm", "max-first", "backward", True, True, "dynamic", "full-int"),
    ("rnn", "max-lowest", "backward", True, True, "dynamic", "full-int"),
    ("keras-gru", "max-lowest", "backward", True, True, "fixed-length", "full-int"),
    ("keras-gru-unroll", "max-lowest", "backward", True, True, "fixed-length", "full-int"),
]


def _inputs(batch: int, length: int, invocations: int) -> np.ndarray:
    """The last batch a child feeds (`_child`'s inputs, seed 1)."""
    rng = np.random.default_rng(1)
    for _ in range(invocations):
        x = rng.integers(1, VOCAB, (batch, length)).astype("int32")
        x *= np.arange(length) < rng.integers(1, length + 1, (batch, 1))
    return x


def _runs(shape) -> list:
    return [r for r in RUNS if shape == (None, None) or (shape[0] in (None, r[0]) and shape[1] == r[1])] \
        or [(shape[0] or 4, shape[1], 1, "signature")]


def _convert_case(k: int, folder: str) -> None:
    """Child process: converts case `k` to `folder/k.tflite` and writes the float outputs of each run's inputs
    (the converter itself may crash the process, as it does on Keras' GRU layer)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    cell, pooling, direction, masked, padded, shape_kind, quant = CASES[k]
    if cell.startswith("keras-gru"):
        fn, shape = _keras_gru(unroll=cell.endswith("unroll"))
    else:
        fn, shape = _loop(cell, pooling, direction, masked), (4, CAL_LENGTH) if shape_kind == "fixed" else (None, None)
    folder = Path(folder)
    (folder / f"{k}.tflite").write_bytes(_convert(fn, shape, quant, padded, folder / f"sm{k}"))
    for j, (batch, length, n, _) in enumerate(_runs(shape)):
        np.save(folder / f"{k}_{j}.npy", fn(tf.constant(_inputs(batch, length, n)))["predictions"].numpy())
    (folder / f"{k}.json").write_text(json.dumps(_runs(shape)))


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(len(CASES)):
            done = subprocess.run([sys.executable, __file__, "--convert", str(k), tmp], capture_output=True, text=True)
            if done.returncode != 0:
                lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
                why = f"killed by signal {-done.returncode}" if done.returncode < 0 else lines[-1][:90] if lines else ""
                rows.append((k, f"converter failed ({done.returncode})", why))
                continue
            path = Path(tmp) / f"{k}.tflite"
            results, worst = [], 0.0
            for j, (batch, length, n, api) in enumerate(json.loads((Path(tmp) / f"{k}.json").read_text())):
                done = subprocess.run([sys.executable, __file__, "--child", str(path), str(batch), str(length), str(n),
                                       api], capture_output=True, text=True)
                results.append(f"{batch}x{length}x{n}{api[0]}:{done.returncode}")
                if done.returncode == 0:  # against the float function on the same inputs
                    got = np.array(json.loads(done.stdout.strip().splitlines()[-1])["out"])
                    worst = max(worst, float(np.max(np.abs(got - np.load(Path(tmp) / f"{k}_{j}.npy").ravel()))))
            aborted = any(r.endswith(":-6") for r in results)
            rows.append((k, "SIGABRT (-6)" if aborted else "runs", " ".join(results)
                         + ("" if aborted else f"  max|file-float|={worst:.3f}")))
    print(f"{'#':>2} {'cell':<16} {'pooling':<10} {'reads':<8} {'mask':<5} {'cal.pad':<7} {'shape':<12} "
          f"{'quantisation':<13} result")
    for (k, result, detail), (cell, pooling, direction, masked, padded, shape_kind, quant) in zip(rows, CASES):
        print(f"{k:>2} {cell:<16} {pooling:<10} {direction:<8} {str(masked):<5} {str(padded):<7} {shape_kind:<12} "
              f"{quant:<13} {result}  {detail}")
    print("runs: batch x length x invocations, s=signature runner / r=resize_tensor_input: return code")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif sys.argv[1:2] == ["--convert"]:
        _convert_case(int(sys.argv[2]), sys.argv[3])
    else:
        main()
