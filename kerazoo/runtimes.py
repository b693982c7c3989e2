"""Runners: one callable per exported format of an artifact, so users need not learn three runtimes.

    >>> run = kerazoo.get("lenet5.mnist", format="litert")     # or "litert_int8", "onnx", "saved_model"
    >>> probs = run(uint8_digits)                              # (N, 10), as the SavedModel gives

A runner takes the artifact's raw inputs, as its SavedModel does (uint8 pixels, review strings,
words, latent vectors), and returns NumPy arrays: the only output, or `{name: array}` when there
are several. It is opened only after its files and the card verify (`kerazoo.artifacts.verify`).
Text artifacts' LiteRT and ONNX files hold the network on token ids: the runner tokenises with
`kerazoo.text.Tokenizer` (pure Python) from the artifact's `tokenizer.json` and `vocabulary.txt`.
int8 files take and give quantised integers; the runner quantises inputs and dequantises outputs
with each tensor's scale and zero point. Runtimes: TensorFlow (SavedModel), `ai-edge-litert`'s
interpreter (LiteRT; TensorFlow's `tf.lite.Interpreter` where it is not installed) and ONNX Runtime,
each imported when a runner of its format is opened. Importing this module imports none of them.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from kerazoo import artifacts
from kerazoo.errors import ArtifactError, DataError, KerazooError
from kerazoo.inputs import check_numbers, check_sources, check_texts
from kerazoo.registry import load_config

__all__ = ["FORMATS", "RUNTIMES", "Runner", "open_runner", "format_files", "check_format", "run_in_child",
           "RuntimeKilled"]

FORMATS = {"saved_model": "saved_model", "litert": "model.tflite", "litert_int8": "model_int8.tflite",
           "onnx": "model.onnx"}
RUNTIMES = {"saved_model": "tensorflow", "litert": "ai-edge-litert", "litert_int8": "ai-edge-litert",
            "onnx": "onnxruntime"}
TOKENIZER_FILES = ("tokenizer.json", "vocabulary.txt")


def check_format(format: str) -> str:
    if format not in FORMATS:
        raise ArtifactError(f"Unknown format {format!r}; formats are {', '.join(FORMATS)} (and 'keras', the default "
                            "of kerazoo.get).")
    return format


def format_files(card: dict, format: str) -> tuple[str, ...]:
    """The files (relative to the artifact folder) a runner of `format` reads, as listed in the card."""
    listed = card["files"]
    if format == "saved_model":
        return tuple(k for k in listed if k.startswith("saved_model/"))
    text = tuple(f for f in TOKENIZER_FILES if f in listed) if card.get("core", {}).get("tokenizer") else ()
    return (FORMATS[format], *text)


def open_runner(folder: str | Path, format: str, *, verify: bool = True, threads: int | None = None) -> "Runner":
    """A `Runner` of artifact folder `folder` in `format`, after verifying the card and the files it reads.

    Args:
      format: one of `FORMATS`, listed in the card's `formats` (a format the artifact cannot hold is an
        error giving the card's reason).
      threads: CPU threads of the runtime (default: every core this process may use).
    """
    folder = Path(folder)
    card = artifacts.verify(folder, files=()) if verify else artifacts.read_card(folder)
    check_format(format)
    entry = card.get("formats", {}).get(format)
    if entry is None and format == "saved_model" and "saved_model/saved_model.pb" in card["files"]:
        entry = {"file": "saved_model"}  # artifacts exported before formats were listed
    if entry is None:
        raise ArtifactError(f"{folder.name} has no {format} file. It has: {', '.join(_formats_of(card))}. "
                            f"Export it with: kerazoo export {folder} --overwrite --format {format}")
    if "unsupported" in entry:
        raise ArtifactError(f"{folder.name} has no {format} file: {entry['unsupported']}")
    files = format_files(card, format)
    if verify:
        artifacts.verify(folder, files=files)
    return Runner(card, folder, format, threads=threads)


def _formats_of(card: dict) -> list[str]:
    formats = card.get("formats") or ({"saved_model": {}} if "saved_model/saved_model.pb" in card["files"] else {})
    return [f for f, e in formats.items() if "unsupported" not in e] or ["none"]


class Runner:
    """Raw inputs in, NumPy out, for one format of one artifact (see the module docstring)."""

    def __init__(self, card: dict, folder: Path, format: str, *, threads: int | None = None):
        self.name, self.format, self.card = card["name"], format, card
        self.folder = Path(folder)
        core = card.get("core", {})
        self.tokenizer = None
        if format != "saved_model" and core.get("tokenizer"):
            from kerazoo.text import Tokenizer

            self.tokenizer = Tokenizer.from_folder(self.folder)
        self.trim_padding = bool(core.get("masked_padding")) and self.tokenizer is not None
        if threads is None:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._backend = _BACKENDS[format](self.folder / FORMATS[format], threads)
        # {"dtype", "shape"} of the raw inputs (what the SavedModel takes); a card without it (seq2seq's): the file's own
        self.raw_input = core.get("raw_input") or (self._backend.input if format == "saved_model" else None)
        self.sources = _task(card.get("arch")) == "translation"  # decoded per character: bounded, no controls

    def __repr__(self):
        return f"<kerazoo Runner {self.name} [{self.format}, {RUNTIMES[self.format]}]>"

    @property
    def input_details(self) -> dict:
        """`{"name", "dtype", "shape"}` of the tensor the file takes (token ids for text files)."""
        return self._backend.input

    def __call__(self, x, *, batch_size: int = 256):
        """Outputs on raw inputs `x`: one array, or `{name: array}` when the model has several outputs."""
        out = self.run(x, batch_size=batch_size)
        return next(iter(out.values())) if len(out) == 1 else out

    def run(self, x, *, batch_size: int = 256) -> dict[str, np.ndarray]:
        """`{output name: array}` on raw inputs `x`, in chunks of `batch_size` (texts of similar length
        together when the file's padding is masked, in the order given back)."""
        x = self._check(x)
        if not len(x):  # an empty batch gives empty outputs of the right shapes
            one = np.array([""], object) if x.dtype == object else np.zeros((1, *x.shape[1:]), x.dtype)
            return {k: v[:0] for k, v in self._backend(self.prepare(one)).items()}
        x = self.tokenizer(x) if self.tokenizer is not None else x
        order = np.argsort((x != 0).sum(1), kind="stable") if self.trim_padding else np.arange(len(x))
        chunks = [self._backend(self._trim(x[order[i:i + batch_size]])) for i in range(0, len(x), batch_size)]
        out = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return {k: v[back] for k, v in out.items()}

    def prepare(self, x) -> np.ndarray:
        """What the file itself is given for raw inputs `x` (token ids for text files; quantised by the backend)."""
        return self._trim(self.tokenizer(x) if self.tokenizer is not None else np.asarray(x))

    def _trim(self, x: np.ndarray) -> np.ndarray:
        if self.trim_padding and x.ndim == 2 and x.shape[1] > 1:  # masked padding: trailing zeros change nothing
            used = np.flatnonzero(x.any(0))
            x = x[:, :int(used[-1]) + 1 if len(used) else 1]
        return x

    def invoke(self, prepared) -> dict[str, np.ndarray]:
        """Runs the file on inputs already in its own form (`prepare(x)`: token ids for text files), with no
        checks or tokenisation: what a serving loop that tokenises elsewhere calls (and the benchmarks)."""
        return self._backend(prepared)

    def _check(self, x) -> np.ndarray:
        """Raw inputs as the array the file is given; what `kerazoo.get`'s Keras models refuse is refused here too
        (`kerazoo.inputs`: strings only, numbers only, finite, raw pixels 0-255)."""
        spec = self.raw_input
        if spec is None:
            return np.asarray(x)
        expected = f"{spec['dtype']} of shape (batch, {', '.join(str(d) for d in spec['shape'][1:])})".replace(
            "(batch, )", "(batch,)")
        if spec["dtype"] == "string":
            check = check_sources if self.sources else check_texts
            return np.array(check(x, name=self.name), dtype=object).reshape(-1)
        try:
            arr = np.asarray(x)
        except ValueError:  # a ragged nested list
            raise DataError(f"{self.name}: expects {expected}; received a ragged nested list") from None
        shape = tuple(spec["shape"][1:])
        if arr.ndim != len(shape) + 1 or any(s is not None and s != a for s, a in zip(shape, arr.shape[1:])):
            raise DataError(f"{self.name}: expects {expected}; received an array of shape {arr.shape}"
                            + (". Add the batch axis: x[None]" if arr.shape == shape else ""))
        dtype = np.dtype(spec["dtype"])
        arr = check_numbers(arr, name=self.name, expected=expected, pixels=dtype == np.uint8, floats=dtype.kind == "f")
        return arr.astype(dtype, copy=False)


def _task(arch) -> str | None:
    """The catalogue task of the artifact's architecture (None for one kerazoo does not know)."""
    try:
        return load_config(arch).task
    except (KerazooError, TypeError):
        return None


# === Backends: one file, one runtime; `backend(x) -> {name: array}` ===

def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Raw values -> what a LiteRT input holds: `round(x / scale + zero_point)` for a quantised input."""
    scale, zero = detail["quantization"]
    dtype = np.dtype(detail["dtype"])
    if scale and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.round(np.asarray(x, np.float32) / scale + zero), info.min, info.max).astype(dtype)
    return np.asarray(x).astype(dtype, copy=False)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return (y.astype(np.float32) - zero) * scale if scale and y.dtype.kind in "iu" else y


class _LiteRT:
    def __init__(self, path: Path, threads: int | None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # platforms without ai-edge-litert wheels: TensorFlow's copy of the interpreter
            try:
                from tensorflow.lite import Interpreter
            except ImportError:
                raise ImportError("LiteRT files need the ai-edge-litert package: pip install 'kerazoo[export]'") \
                    from None
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        (self.name, self.detail), = self.runner.get_input_details().items()
        self.outputs = self.runner.get_output_details()
        self.input = {"name": self.name, "dtype": np.dtype(self.detail["dtype"]).name,
                      "shape": [None if d < 0 else int(d) for d in self.detail["shape_signature"]]}

    def __call__(self, x):
        out = self.runner(**{self.name: _quantize(x, self.detail)})
        return {k: _dequantize(v, self.outputs[k]) for k, v in out.items()}


class _Onnx:
    def __init__(self, path: Path, threads: int | None):
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("ONNX files need ONNX Runtime: pip install 'kerazoo[export]'") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (node,) = self.session.get_inputs()
        self.name, self.names = node.name, [o.name for o in self.session.get_outputs()]
        dtype = node.type.removeprefix("tensor(").removesuffix(")")
        dtype = {"float": "float32", "double": "float64"}.get(dtype, dtype)
        self.input = {"name": node.name, "dtype": dtype,
                      "shape": [d if isinstance(d, int) else None for d in node.shape]}

    def __call__(self, x):
        x = np.asarray(x).astype(self.input["dtype"], copy=False)
        return dict(zip(self.names, self.session.run(None, {self.name: x})))


class _SavedModel:
    def __init__(self, path: Path, threads: int | None):
        import tensorflow as tf

        self.tf = tf
        self.fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        (self.name, spec), = self.fn.structured_input_signature[1].items()
        self.input = {"name": self.name, "dtype": spec.dtype.name,
                      "shape": [None if d is None else int(d) for d in spec.shape]}

    def __call__(self, x):
        out = self.fn(**{self.name: self.tf.constant(x, dtype=self.input["dtype"])})
        return {k: _strings(v.numpy()) for k, v in out.items()}


def _strings(a: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(a) if a.dtype == object and a.size else a


_BACKENDS = {"saved_model": _SavedModel, "litert": _LiteRT, "litert_int8": _LiteRT, "onnx": _Onnx}


# === Running a file in a child process ===

CHILD_RUNNER = "kerazoo.runtimes:Runner"  # what run_in_child's process opens a file with ("module:attribute")


class RuntimeKilled(KerazooError, RuntimeError):
    """A format's runtime killed the process it ran in (a signal, e.g. SIGABRT from an interpreter's abort)."""

    def __init__(self, fmt: str, signal_name: str, detail: str):
        self.signal = signal_name
        super().__init__(f"{RUNTIMES[fmt]} was killed by {signal_name} while running the {fmt} file"
                         + (f" ({detail})" if detail else ", with no message"))


def _save_inputs(x, folder: Path) -> None:
    x = np.asarray(x)
    if x.dtype.kind in "OUS":  # strings: JSON (a fixed-width NumPy text array of 25,000 reviews is gigabytes)
        (folder / "inputs.json").write_text(json.dumps([str(v) for v in x.tolist()]))
    else:
        np.save(folder / "inputs.npy", x, allow_pickle=False)


def _load_inputs(folder: Path) -> np.ndarray:
    if (folder / "inputs.json").is_file():
        return np.array(json.loads((folder / "inputs.json").read_text()), dtype=object)
    return np.load(folder / "inputs.npy", allow_pickle=False)


def child_main(folder: str) -> None:
    """The child process of `run_in_child`: opens one format's file with its runtime, runs it on the
    inputs in `folder` and writes `outputs.npz` and `details.json` there."""
    with contextlib.suppress(ImportError, ValueError, OSError):  # a runtime that aborts leaves no core file
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    folder = Path(folder)
    request = json.loads((folder / "request.json").read_text())
    module, _, attribute = request["runner"].partition(":")
    runner = getattr(importlib.import_module(module), attribute)(request["card"], Path(request["folder"]),
                                                                 request["format"])
    outputs = runner.run(_load_inputs(folder), batch_size=request["batch_size"])
    np.savez(folder / "outputs.npz", **{f"output_{i}": np.asarray(v) for i, v in enumerate(outputs.values())})
    (folder / "details.json").write_text(json.dumps({"input": runner.input_details, "names": list(outputs)}))


def run_in_child(card: dict, folder: Path, fmt: str, inputs, *, batch_size: int = 256) -> tuple[dict, dict]:
    """`(outputs, input details)` of one format's file run on `inputs` by a `Runner` in a fresh Python
    process (`kerazoo export` measures every file this way). Raises `RuntimeKilled` naming the signal
    when the runtime kills that process, and RuntimeError with the child's last error line when the
    runtime raises. Numeric outputs only (what LiteRT and ONNX files give)."""
    with tempfile.TemporaryDirectory(prefix="kerazoo-measure-") as tmp:
        tmp = Path(tmp)
        _save_inputs(inputs, tmp)
        (tmp / "request.json").write_text(json.dumps({"card": card, "folder": str(folder), "format": fmt,
                                                      "batch_size": batch_size, "runner": CHILD_RUNNER}))
        here = str(Path(__file__).resolve().parents[1])  # this kerazoo, wherever it was imported from
        # and the modules this process sees: a family registered from the user's own package is importable there
        path = [here, *(p for p in sys.path if p), os.environ.get("PYTHONPATH")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p),
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        code = "import sys; from kerazoo.runtimes import child_main; child_main(sys.argv[1])"
        done = subprocess.run([sys.executable, "-c", code, str(tmp)], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        if done.returncode < 0:
            try:
                name = signal.Signals(-done.returncode).name
            except ValueError:
                name = f"signal {-done.returncode}"
            raise RuntimeKilled(fmt, name, lines[-1][:200] if lines else "")
        if done.returncode != 0:
            raise RuntimeError(lines[-1] if lines else f"the measuring process exited with {done.returncode}")
        details = json.loads((tmp / "details.json").read_text())
        with np.load(tmp / "outputs.npz", allow_pickle=False) as saved:
            outputs = {name: saved[f"output_{i}"] for i, name in enumerate(details["names"])}
    return outputs, details["input"]
