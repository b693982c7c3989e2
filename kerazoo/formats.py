"""LiteRT (float and int8) and ONNX files of an artifact, written and measured by `kerazoo export`.

Every format holds the artifact's *core* (`kerazoo.family.ExportCore`): the forward pass on the
SavedModel's own input (uint8 pixels, latent vectors), or for text models the network on token ids,
with the tokenizer written beside it as data (`tokenizer.json`, `vocabulary.txt`; see
`kerazoo.text.Tokenizer`). A family may give its own core (`FamilyHooks.export_core`: the IMDB
recurrent networks as one `tf.while_loop` LiteRT's builtin ops hold at any batch size).

- `litert` (`model.tflite`): TensorFlow's LiteRT converter, builtin ops only (no TF Select), float32.
- `litert_int8` (`model_int8.tflite`): full-integer post-training quantisation (int8 weights and
  activations, integer inputs and outputs), calibrated on training inputs, never held-out ones.
- `onnx` (`model.onnx`): tf2onnx from the same function, run by ONNX Runtime.

Each file is then measured by its own runtime (`kerazoo.runtimes`) on the held-out data (the
family's `export_data`, else the image/text classification task's test split): the metric, and its
agreement with the SavedModel on the same inputs (max abs difference, same top-1). A float file
that disagrees beyond `FLOAT_TOLERANCE` / `TOP1_AGREEMENT`, or that its runtime cannot run, is not
kept. A format that cannot hold a model is recorded in the card with the reason, never skipped silently.
Each file but the SavedModel is run in a child process (`kerazoo.runtimes.run_in_child`), so a runtime that kills
its process (ai-edge-litert's interpreter aborts on some int8 recurrent loops) costs that format only:
the card records it as not kept, naming the signal.
"""
from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from kerazoo.errors import ArtifactError, DataNotFoundError
from kerazoo.family import ExportCore, ExportData, hooks
from kerazoo.loading import used_artifacts
from kerazoo.registry import load_config
from kerazoo.runtimes import FORMATS, RUNTIMES, Runner, RuntimeKilled, run_in_child
from kerazoo.training import userdata
from kerazoo.training.tasks import raw_splits

__all__ = ["FORMATS", "FLOAT_TOLERANCE", "TOP1_AGREEMENT", "parse_formats", "shipped_formats", "serving_spec",
           "forward_core", "core_of", "classification_data", "data_of", "write_formats", "agreement"]

FLOAT_TOLERANCE = 1e-4   # max abs difference of a float file's outputs from the SavedModel's
TOP1_AGREEMENT = 0.999   # share of held-out inputs whose top-1 class a float file must agree on


def parse_formats(formats) -> tuple[str, ...]:
    """`"saved_model,litert"`, a sequence of names or `"all"` -> the formats, `saved_model` always first."""
    names = list(FORMATS) if formats in ("all", ["all"], ("all",)) else (
        [f.strip() for f in formats.split(",") if f.strip()] if isinstance(formats, str) else list(formats))
    unknown = [f for f in names if f not in FORMATS]
    if unknown:
        raise ArtifactError(f"Unknown export format(s) {unknown}; formats are {', '.join(FORMATS)} or 'all' "
                            "(the SavedModel is always written: the others are verified against it).")
    return tuple(f for f in FORMATS if f == "saved_model" or f in names)


SHIPPED_ONNX_PARAMS = 500_000  # ONNX files ship for models below this size (the wheel stays < 100 MB)


def shipped_formats(num_params: int) -> tuple[str, ...]:
    """What kerazoo's shipped artifacts hold: the SavedModel and LiteRT float and int8 (int8 needs the
    training data to calibrate on, so users could not make it themselves), and ONNX for models under
    `SHIPPED_ONNX_PARAMS` parameters. The others' ONNX files are made on demand, with no data needed:
    `kerazoo export dbn.mnist --tag mnist-onnx --format onnx`."""
    return ("saved_model", "litert", "litert_int8") + (("onnx",) if num_params < SHIPPED_ONNX_PARAMS else ())


def serving_spec(model, model_kwargs: dict):
    """`(TensorSpec or [specs], description)` of the raw input a model's SavedModel takes."""
    import tensorflow as tf

    if len(model.inputs) > 1:  # e.g. word2vec's [words, candidates]: one list argument
        specs = [tf.TensorSpec(s.shape, s.dtype, name=s.name) for s in model.inputs]
        return [specs], ", ".join(f"{s.name}: {s.dtype} {list(s.shape[1:])}" for s in model.inputs)
    spec = model.inputs[0]
    if str(spec.dtype) == "string":
        return tf.TensorSpec((None,), tf.string, name="text"), "raw text strings"
    if model_kwargs.get("rescaling"):
        shape = (None,) + tuple(spec.shape[1:])
        return tf.TensorSpec(shape, tf.uint8, name="image"), f"uint8 pixels 0-255, shape {list(shape[1:])}"
    return tf.TensorSpec(spec.shape, spec.dtype, name=spec.name), f"{spec.dtype} {list(spec.shape[1:])}"


# === The core each format holds ===

def _named(model, outputs) -> dict:
    if isinstance(outputs, dict):
        return outputs
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return dict(zip(model.output_names, outputs))


def forward_core(model, model_kwargs: dict) -> ExportCore:
    """The default core: `model` on the SavedModel's raw input (uint8 pixels are cast to float32 inside)."""
    import tensorflow as tf

    from kerazoo.models.common import split_string_model
    from kerazoo.text import Tokenizer

    vectorizer, network = split_string_model(model)
    if vectorizer is not None:  # raw strings -> ids -> network: the files hold the network on ids
        tokenizer = Tokenizer.of_vectorizer(vectorizer)
        spec = tf.TensorSpec((None, None), tf.int32, name="tokens")
        fn = tf.function(lambda ids: _named(network, network(ids, training=False)), input_signature=[spec])
        return ExportCore(fn, f"int32 token ids (batch, length <= {tokenizer.sequence_length}) from the tokenizer",
                          tokenizer=tokenizer, track=[network])
    spec, description = serving_spec(model, model_kwargs)
    if isinstance(spec, list) or spec.dtype == tf.string:
        reason = "the model takes several inputs" if isinstance(spec, list) else "the model takes strings"
        return ExportCore(None, description, unsupported={f: f"{reason}; its family declares no export core "
                                                          "(FamilyHooks.export_core)" for f in FORMATS
                                                          if f != "saved_model"})
    fn = tf.function(lambda x: _named(model, model(tf.cast(x, model.inputs[0].dtype), training=False)),
                     input_signature=[spec])
    quantizable = None
    if spec.dtype == tf.uint8:  # int8 files: the float core, whose calibrated 0..255 input maps to uint8 exactly
        quantizable = tf.function(lambda x: _named(model, model(x, training=False)),
                                  input_signature=[tf.TensorSpec(spec.shape, tf.float32, name=spec.name)])
    return ExportCore(fn, description, quantizable=quantizable, track=[model])


def core_of(model, arch: str, model_kwargs: dict) -> ExportCore:
    """The family's `export_core`, else `forward_core`."""
    hook = hooks(load_config(arch).family).export_core
    return hook(model) if hook is not None else forward_core(model, model_kwargs)


# === The data each format is measured on ===

def _accuracy(labels):
    labels = np.asarray(labels).ravel()

    def score(outputs) -> dict:
        out = np.asarray(outputs)
        predicted = out.argmax(-1) if out.shape[-1] > 1 else (out[:, 0] > 0.5).astype(labels.dtype)
        return {"test_accuracy": float(np.mean(predicted == labels))}

    return score


def classification_data(model, card: dict, data_dir, *, calibration: int | None = None) -> ExportData:
    """Image and text classification: a seeded sample of training inputs, the whole test split."""
    config = load_config(card["arch"])
    (x_train, _), (x_test, y_test) = raw_splits(config, card["recipe"], data_dir)
    text = config.task == "text-classification"
    n = calibration or (64 if text else 500)
    sample = x_train[np.random.default_rng(card.get("seed", 0)).permutation(len(x_train))[:n]]
    what = {"mnist": "MNIST test digits", "imdb": "IMDB test reviews"}.get(card["dataset"], f"{card['dataset']} test "
                                                                                          f"{card['split']} inputs")
    return ExportData(sample, x_test, _accuracy(y_test), f"{len(x_test):,} {what}")


def data_of(model, card: dict, data_dir) -> ExportData | None:
    """The family's `export_data` (given the artifacts it uses), else `classification_data` for classifiers;
    None for other tasks."""
    config = load_config(card["arch"])
    family = hooks(config.family)
    if card.get("finetune") is not None:  # fine-tuned on the user's files: those files, as its card records them
        return userdata.export_data(model, card, data_dir)
    if family.export_data is not None:
        return family.export_data(model, card, data_dir, used_artifacts(family, card["recipe"]))
    if config.task in ("image-classification", "text-classification"):
        return classification_data(model, card, data_dir)
    return None


# === Conversion ===

@contextlib.contextmanager
def _quiet():
    """The converters' chatter (MLIR passes, tf2onnx's INFO lines) off for the duration."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _saved_core(fn, track, path: Path) -> None:
    import keras

    from kerazoo.patches import store_weights_once

    archive = keras.export.ExportArchive()
    for resource in track:
        archive.track(resource)
    archive.add_endpoint("serving_default", fn)
    store_weights_once(archive)
    archive.write_out(str(path), verbose=False)


def _litert(saved: Path, calibration=None, input_type=None) -> bytes:
    """A LiteRT flatbuffer of the SavedModel at `saved`: float32, or full-integer int8 when calibration
    batches are given (float inputs then become `input_type` integers; integer inputs stay as they are)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if input_type is not None:
            converter.inference_input_type = input_type
        converter.inference_output_type = tf.int8
    with _quiet():
        return converter.convert()


def _onnx(fn, path: Path) -> int:
    from kerazoo.patches import tf2onnx_for_numpy2

    tf2onnx_for_numpy2()
    import tf2onnx

    with _quiet():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, output_path=str(path))
    return max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _reason(error: Exception) -> str:
    """The first informative line of a converter's error, for the card."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "error:" in ln] or lines or [type(error).__name__]
    text = useful[0].split("error:", 1)[-1].strip()
    return f"{type(error).__name__}: {text[:300]}"


def _calibration_inputs(core: ExportCore, raw) -> list[np.ndarray]:
    """Raw training inputs -> batches of what the int8 converter feeds the float core."""
    x = core.tokenizer(raw) if core.tokenizer is not None else np.asarray(raw)
    step = 8 if core.tokenizer is not None else 20
    batches = []
    for i in range(0, len(x), step):
        batch = x[i:i + step]
        if core.masked_padding and batch.ndim == 2:  # padding changes nothing: calibrate on the real lengths
            used = np.flatnonzero(batch.any(0))
            batch = batch[:, :int(used[-1]) + 1 if len(used) else 1]
        batches.append(batch.astype(np.float32) if batch.dtype == np.uint8 else batch)
    return batches


# === Measurement ===

def agreement(outputs, reference, *, classifier: bool) -> dict:
    """How a format's outputs agree with the SavedModel's on the same inputs: `max_abs_diff` over float
    outputs, `top1` (same class; classifiers), `equal` (share of identical non-float outputs)."""
    a, b = (o if isinstance(o, dict) else {"output": o} for o in (outputs, reference))
    pairs = list(zip(a.values(), b.values())) if len(a) == 1 and len(b) == 1 else [(a[k], b[k]) for k in a if k in b]
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in pairs]
    floats = [(x, y) for x, y in pairs if x.dtype.kind == "f" and y.dtype.kind == "f"]
    others = [(x, y) for x, y in pairs if not (x.dtype.kind == "f" and y.dtype.kind == "f")]
    result = {"n": int(len(pairs[0][0])) if pairs else 0}
    if floats:
        result["max_abs_diff"] = float(max(np.max(np.abs(x.astype(np.float64) - y), initial=0.0) for x, y in floats))
    if others:
        result["equal"] = float(np.mean([np.mean(x == y) for x, y in others]))
    if classifier and floats:
        x, y = floats[0]
        top = (lambda o: o.argmax(-1)) if x.shape[-1] > 1 else (lambda o: o[..., 0] > 0.5)
        result["top1"] = float(np.mean(top(x) == top(y)))
    return result


def _synthetic(raw_input: dict, n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (n, *[d or 8 for d in raw_input["shape"][1:]])
    if raw_input["dtype"] == "string":
        return np.array(["A great film, I loved it!", "awful<br />boring", "", "good", "bad", "Ça va? 😀"] * 3,
                        dtype=object)[:n]
    if raw_input["dtype"] == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(raw_input["dtype"])


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    with contextlib.suppress(PackageNotFoundError):
        return f"{package} {version(package)}"
    return package


def write_formats(model, folder: Path, *, name: str, arch: str, card: dict, formats, data_dir=None,
                  log=print) -> dict:
    """Writes `formats` (besides the SavedModel, already in `folder`) and measures every format.

    Args:
      model: the trained model in its shipped form (what `saved_model/` serves).
      folder: the artifact's staging folder, holding `saved_model/`.
      card: the card being written (`arch`, `dataset`, `split`, `recipe`, `model`, `seed`, `class_names`).
      data_dir: where the data set is (else `KERAZOO_DATA_DIR`, else a download); without it the
        card says the metrics were not measured and int8 (which needs training inputs) is not written.

    Returns:
      The card's `core`, `formats` and `formats_measured_on` entries.
    """
    formats = parse_formats(formats)
    folder = Path(folder)
    wanted = [f for f in formats if f != "saved_model"]
    if not wanted:
        return {"formats": {"saved_model": {"file": "saved_model", "bytes": _folder_bytes(folder / "saved_model")}}}
    core = core_of(model, arch, card["model"])
    entries: dict[str, dict] = {"saved_model": {"file": "saved_model"}}
    data, missing = None, "no held-out data is defined for this task"
    try:
        if any(f not in core.unsupported for f in wanted):
            data = data_of(model, card, data_dir)
    except DataNotFoundError as e:
        missing = str(e)
    if core.tokenizer is not None:
        core.tokenizer.save(folder)
    with tempfile.TemporaryDirectory() as tmp:
        if core.fn is not None:
            _saved_core(core.fn, core.track, Path(tmp) / "core")
        for fmt in wanted:
            if fmt in core.unsupported:
                entries[fmt] = {"unsupported": core.unsupported[fmt]}
                continue
            if fmt == "litert_int8" and data is None:
                entries[fmt] = {"unsupported": "full-integer quantisation needs training inputs to calibrate on, and "
                                               f"none were found ({missing})"}
                continue
            started, path = time.time(), folder / FORMATS[fmt]
            try:
                entries[fmt] = _convert(fmt, core, data, Path(tmp), path)
            except Exception as e:  # noqa: BLE001 - a converter's refusal is recorded, with its reason
                path.unlink(missing_ok=True)
                entries[fmt] = {"unsupported": f"the {fmt} converter failed: {_reason(e)}"}
                continue
            log(f"{name}: wrote {path.name} in {time.time() - started:.0f} s")
    if all("unsupported" in entries[f] for f in wanted):  # nothing to measure against the SavedModel
        entries["saved_model"]["bytes"] = _folder_bytes(folder / "saved_model")
        return {"core": {"input": core.input}, "formats": entries}
    return _measure(folder, name, card, core, entries, data, missing, log)


def _convert(fmt: str, core: ExportCore, data: ExportData | None, tmp: Path, path: Path) -> dict:
    """Writes one format's file at `path`; returns its card entry (before measurement)."""
    import tensorflow as tf

    if fmt == "litert":
        path.write_bytes(_litert(tmp / "core"))
        return {"file": path.name}
    if fmt == "onnx":
        return {"file": path.name, "opset": _onnx(core.fn, path)}
    batches = _calibration_inputs(core, data.calibration)
    source, input_type, shown = tmp / "core", None, core.fn.input_signature[0].dtype.name
    if core.quantizable is not None:  # uint8 pixels: the float core, whose 0..255 input quantises to uint8 exactly
        _saved_core(core.quantizable, core.track, tmp / "quantizable")
        source, input_type, shown = tmp / "quantizable", tf.uint8, "uint8"
    elif core.fn.input_signature[0].dtype.is_floating:
        input_type, shown = tf.int8, "int8"
    path.write_bytes(_litert(source, batches, input_type))
    return {"file": path.name, "quantization": f"full integer: int8 weights and activations, {shown} in, int8 out; "
                                               f"calibrated on {sum(len(b) for b in batches):,} training inputs"}


def _measure(folder: Path, name: str, card: dict, core: ExportCore, entries: dict, data: ExportData | None,
             missing: str | None, log) -> dict:
    """Runs every written format on the held-out inputs (else generated ones) with its own runtime."""
    reference_runner = Runner({"name": name}, folder, "saved_model")
    core_entry = {"input": core.input, "raw_input": reference_runner.input_details}
    if core.tokenizer is not None:
        core_entry["tokenizer"] = "tokenizer.json"
    if core.masked_padding:
        core_entry["masked_padding"] = True
    partial = {"name": name, "core": core_entry}
    inputs = data.inputs if data is not None else _synthetic(core_entry["raw_input"])
    classifier = bool(card.get("class_names"))
    reference = None
    for fmt, entry in entries.items():
        if "unsupported" in entry:
            continue
        started = time.time()
        # LiteRT's int8 kernels run the recurrent loop fastest one review at a time (11 ms per 200-token
        # review at batch 1, 41 ms at 64, on 1 thread); everything else in batches
        batch_size = 1 if fmt == "litert_int8" and core.masked_padding else 256
        try:
            if fmt == "saved_model":
                outputs, details = reference_runner.run(inputs, batch_size=batch_size), reference_runner.input_details
            else:  # in a child process: a runtime that aborts takes only its own format down
                outputs, details = run_in_child(partial, folder, fmt, inputs, batch_size=batch_size)
        except RuntimeKilled as e:
            _drop(folder, entries, fmt, f"not kept: {e} on {len(inputs):,} inputs", log, signal=e.signal)
            continue
        except Exception as e:  # noqa: BLE001 - a file its own runtime cannot run is not shipped; the card says why
            if fmt == "saved_model":
                raise
            _drop(folder, entries, fmt, f"the {fmt} file does not run in {RUNTIMES[fmt]}: {_reason(e)}", log)
            continue
        seconds = time.time() - started
        entry.update(bytes=_folder_bytes(folder / FORMATS[fmt]), runtime=_version(RUNTIMES[fmt]), input=details)
        if data is not None:
            entry["metrics"] = data.score(next(iter(outputs.values())) if len(outputs) == 1 else outputs)
        if fmt == "saved_model":
            reference = outputs
        else:
            entry["agreement"] = agreement(outputs, reference, classifier=classifier)
        log(f"{name}: {fmt} measured in {seconds:.0f} s: {entry.get('metrics', '')} {entry.get('agreement', '')}")
        agree = entry.get("agreement", {})
        if fmt in ("litert", "onnx") and (agree.get("max_abs_diff", 0.0) > FLOAT_TOLERANCE
                                          or agree.get("top1", 1.0) < TOP1_AGREEMENT):
            _drop(folder, entries, fmt, f"the {fmt} file disagreed with the SavedModel on {agree['n']:,} inputs (max "
                                        f"abs difference {agree.get('max_abs_diff')}, same top-1 {agree.get('top1')}; "
                                        f"allowed {FLOAT_TOLERANCE} and {TOP1_AGREEMENT}), so it is not kept", log)
    int8, flt = entries.get("litert_int8", {}), entries.get("litert", {})
    if "metrics" in int8 and "metrics" in flt:
        int8["delta_vs_float"] = {k: round(v - flt["metrics"][k], 6) for k, v in int8["metrics"].items()
                                  if k in flt["metrics"]}
    if "bytes" in int8 and "bytes" in flt:
        int8["size_vs_float"] = round(int8["bytes"] / flt["bytes"], 4)
    measured_on = data.description if data is not None else \
        f"{len(inputs)} generated inputs: agreement with the SavedModel only (no real data: {missing})"
    return {"core": core_entry, "formats": {f: entries[f] for f in FORMATS if f in entries},
            "formats_measured_on": measured_on}


def _drop(folder: Path, entries: dict, fmt: str, reason: str, log, signal: str | None = None) -> None:
    """A written file that cannot be trusted: removed before the card lists the files, the reason kept
    (and the signal, when its runtime was killed)."""
    (folder / FORMATS[fmt]).unlink(missing_ok=True)
    entries[fmt] = {"unsupported": reason, **({"signal": signal} if signal else {})}
    log(f"{folder.name}: {reason}")
