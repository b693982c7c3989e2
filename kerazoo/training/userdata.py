"""The parts of fine-tuning on the user's own data (`kerazoo.finetune(..., data=PATH)`, put together
by `kerazoo.training.finetune.finetune_data`): which pretrained weights it starts from (recorded
with their sha256), the user's examples split and batched for the network, the measurement on the
held-out split, and the run folder (`model.keras`, `run.json`, `history.csv`, plots) that
`kerazoo.exporting.export` turns into a user artifact.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from kerazoo import artifacts
from kerazoo.artifacts import TAG_PATTERN, check_tag
from kerazoo.data import folders
from kerazoo.errors import ArtifactError, ConfigError, DataError, WeightsError
from kerazoo.rundir import check_writable
from kerazoo.text import vectorize

__all__ = ["FinetuneResult", "source_record", "default_tag", "check_destination", "read_parts", "head_for",
           "reinitialise", "network_inputs", "pipeline", "measure", "write_history"]


@dataclasses.dataclass
class FinetuneResult:
    model: Any                  # the fine-tuned model in its raw-input form (what the artifact holds)
    artifact: Path | None       # the artifact folder (None when not exported)
    metrics: dict               # val_* (and test_*) of that model on the held-out examples
    history: dict               # per-epoch metrics of both phases
    output: Path                # run folder: model.keras, run.json, history.csv, plots
    class_names: list
    plots: list = dataclasses.field(default_factory=list)
    baseline: dict | None = None  # the same architecture trained from scratch on the same data, if asked


def _is_path(weights) -> bool:
    return isinstance(weights, os.PathLike) or "/" in str(weights) or str(weights).endswith(".keras")


def source_record(arch: str, weights) -> dict:
    """What the fine-tuning starts from: the artifact's name, card and `model.keras` sha256 (verified)."""
    if _is_path(weights):
        path = Path(weights).expanduser()
        if path.is_dir():
            card = artifacts.verify(path)
            return {"name": card.get("name", path.name), "path": str(path.resolve()),
                    "card_sha256": artifacts.sha256(path / artifacts.CARD),
                    "model_keras_sha256": card["files"]["model.keras"]["sha256"], "dataset": card.get("dataset")}
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist (give an artifact tag, a .keras file or an "
                               "artifact folder)")
        return {"name": None, "path": str(path.resolve()), "model_keras_sha256": artifacts.sha256(path)}
    artifact = artifacts.find(arch, weights)
    if artifact is None:
        return {}  # kerazoo.get names what exists
    card = artifacts.verify(artifact.folder)
    return {"name": artifact.name, "store": "shipped" if artifact.shipped else "user",
            "card_sha256": artifacts.sha256(artifact.folder / artifacts.CARD),
            "model_keras_sha256": card["files"]["model.keras"]["sha256"], "dataset": card.get("dataset"),
            "metrics": card.get("metrics", {})}


def default_tag(data) -> str:
    """An artifact tag from the data's folder or file name (`My Letters/` -> `my-letters`)."""
    path = Path(data).expanduser()
    name = (path.stem if path.is_file() else path.resolve().name).lower()
    tag = re.sub(r"[^a-z0-9_-]+", "-", name).strip("-_")[:64]
    if not re.fullmatch(TAG_PATTERN, tag or "-"):
        raise WeightsError(f"cannot make an artifact tag from {path.name!r}; name one with --tag (tag=), matching "
                           f"{TAG_PATTERN}")
    return tag


def check_destination(arch: str, tag: str, destination, *, overwrite: bool, shadow: bool) -> Path:
    """The store the artifact will go to; an error now (before training) if the export would refuse."""
    store = Path(destination).expanduser() if destination is not None else artifacts.user_dir()
    name = f"{arch}.{check_tag(tag)}"
    artifacts.check_store(store)  # never into the package nor into an artifact
    check_writable(store, "--destination" if destination is not None else "the user store")
    target = store / name
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise ArtifactError(f"{target} exists; pass --overwrite (overwrite=True) to replace it, or choose another "
                            "--tag")
    if destination is None and (artifacts.shipped_dir() / name / artifacts.CARD).exists() and not shadow:
        raise ArtifactError(f"{name} is a shipped artifact; choose another --tag, or pass --shadow (shadow=True) to "
                            "have yours take its place for kerazoo.get")
    return store


def read_parts(data, validation, *, like, validation_split: float, test_split: float, seed: int,
               **read_options) -> tuple[folders.UserData, dict, dict]:
    """`(all the data, {"train", "validation", "test"} parts, a description of the split for the card)`."""
    user = folders.load(data, like=like, **read_options)
    if validation is not None:
        held = folders.align(folders.load(validation, like=like, **read_options), user.class_names)
        parts = {**folders.split(user, validation=0.0, test=test_split, seed=seed), "validation": held}
        how = {"validation": str(held.source.resolve())}
    else:
        if not validation_split:
            raise DataError("fine-tuning measures the result on held-out examples: give validation_split > 0 "
                            "(--validation-split) or a validation folder/table (--validation)")
        parts = folders.split(user, validation=validation_split, test=test_split, seed=seed)
        how = {"validation": f"{validation_split:g} of each class, drawn with seed {seed}"}
    if test_split:
        how["test"] = f"{test_split:g} of each class, drawn with seed {seed}"
    return user, parts, how


def head_for(class_names) -> dict:
    """Builder arguments of the new head: one sigmoid unit for two classes, else a softmax per class."""
    if len(class_names) == 2:
        return {"classes": 1, "classifier_activation": "sigmoid"}
    return {"classes": len(class_names), "classifier_activation": "softmax"}


def reinitialise(layer) -> None:
    """Draws a layer's kernel and bias afresh from its initialisers (a new head even when the
    pretrained one has the same shape)."""
    for attr in ("kernel", "bias"):
        variable = getattr(layer, attr, None)
        if variable is not None:
            variable.assign(getattr(layer, f"{attr}_initializer")(variable.shape, dtype=variable.dtype))


def network_inputs(part: folders.UserData, vectorizer):
    """What the network trains on: the images as they are, texts as the model's own token ids."""
    if vectorizer is None:
        return part.x
    return vectorize(vectorizer, part.x)


def targets(part: folders.UserData, binary: bool) -> np.ndarray:
    return part.y.astype("float32") if binary else part.y


def pipeline(x, y, *, batch_size: int, shuffle: bool, seed: int, text: bool):
    """Cached, (seeded-)shuffled batches; token ids are trimmed to each batch's longest text (the
    masked recurrent layers give the same outputs, in a fraction of the steps)."""
    import tensorflow as tf

    from kerazoo.data.sources import to_dataset

    if not text:
        return to_dataset((x, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda ids, t: (ids[:tf.maximum(tf.cast(tf.math.count_nonzero(ids), tf.int32), 1)], t))
    return ds.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def measure(model, part: folders.UserData, prefix: str, *, binary: bool, batch_size: int = 256):
    """`({prefix_loss, prefix_accuracy, prefix_error}, (true, predicted))` of the raw-input model."""
    import keras

    probs = np.asarray(model.predict(part.x, batch_size=batch_size, verbose=0))
    if binary:
        predicted = (probs[:, 0] > 0.5).astype(int)
        loss = keras.losses.binary_crossentropy(part.y.astype("float32")[:, None], probs)
    else:
        predicted = probs.argmax(-1)
        loss = keras.losses.sparse_categorical_crossentropy(part.y, probs)
    accuracy = float(np.mean(predicted == part.y))
    return ({f"{prefix}_loss": float(np.mean(np.asarray(loss))), f"{prefix}_accuracy": accuracy,
             f"{prefix}_error": 1.0 - accuracy}, (part.y, predicted))


def write_history(history: dict, path: Path) -> None:
    """`history.csv` as `kerazoo train`'s CSVLogger writes it (epoch, then one column per metric)."""
    keys = sorted(history)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for epoch in range(max((len(v) for v in history.values()), default=0)):
            writer.writerow([epoch, *(history[k][epoch] if epoch < len(history[k]) else "" for k in keys)])


# === Exporting a fine-tuned artifact: its own files to calibrate on and measure with ===

def export_data(model, card: dict, data=None):
    """The `kerazoo.family.ExportData` of a fine-tuned artifact: int8 files are calibrated on its own
    training examples and every format is measured on its held-out ones (as its card lists them), read
    again from `data` (default: the folder or table its card records) with the recorded preprocessing.

    Raises:
      DataNotFoundError: the files are not there (then the card says what was not measured).
    """
    from kerazoo.errors import DataNotFoundError
    from kerazoo.family import ExportData

    record, options = card.get("data") or {}, _read_options(card.get("preprocessing") or {})
    path = Path(data or record.get("path") or "").expanduser()
    if not str(data or record.get("path") or "") or not path.exists():
        raise DataNotFoundError(f"the examples {card.get('name', 'this artifact')} was fine-tuned on are not at "
                                f"{path if str(path) != '.' else 'the path its card records'}; give them with --data "
                                "PATH (data_dir=)")
    user = folders.load(path, like=model, **options)
    names = card.get("class_names") or user.class_names
    user = folders.align(user, names)
    held_out = record.get("held_out_examples") or {}
    separate = (record.get("held_out") or {}).get("validation")
    if separate and Path(separate).exists() and not data:  # a --validation folder or table of its own
        held = folders.align(folders.load(separate, like=model, **options), names)
        wanted = set(held_out.get("test") or [])
    else:
        held, wanted = None, {o for part in held_out.values() for o in part}
    chosen = np.array([o in wanted for o in user.origins], dtype=bool)
    if held is None:
        if not chosen.any():
            raise DataNotFoundError(f"{path}: none of the held-out examples its card lists is there any more (e.g. "
                                    f"{sorted(wanted)[:2]}); the files changed since the fine-tune")
        held = user.take(np.flatnonzero(chosen))
    train = user.take(np.flatnonzero(~chosen))
    n = 64 if user.kind != "image-folder" else 500
    sample = train.x[np.random.default_rng(card.get("seed", 0)).permutation(len(train.y))[:n]]
    binary = len(names) == 2

    def score(outputs) -> dict:
        out = np.asarray(outputs)
        predicted = (out[:, 0] > 0.5).astype(int) if binary and out.shape[-1] == 1 else out.argmax(-1)
        return {"test_accuracy": float(np.mean(predicted == held.y))}

    return ExportData(sample, held.x, score, f"{len(held.y)} held-out examples of {path.name} (its fine-tune's own; "
                                              f"int8 calibrated on {len(sample)} of its training examples)")


def _read_options(preprocessing: dict) -> dict:
    """`folders.load` options as a fine-tune recorded them (encoding, table columns)."""
    return {k: preprocessing[k] for k in ("encoding", "text_column", "label_column") if preprocessing.get(k)}


# === Options of a fine-tune on the user's data ===

IMBALANCE_RATIO = 1.5  # largest / smallest class above which a fine-tune warns
DEFAULT_AUGMENT = {"probability": 0.5, "translate": 0.1, "rotate": 10, "zoom": 0.1}  # --augment without a value


def imbalance(counts: dict) -> str | None:
    """A warning naming the class counts when the largest class has `IMBALANCE_RATIO` x the smallest's, else None."""
    ratio = max(counts.values()) / max(1, min(counts.values()))
    if ratio < IMBALANCE_RATIO:
        return None
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    return (f"the classes are imbalanced ({shown}: the largest has {ratio:.1f}x the smallest's examples); accuracy "
            "then favours the large classes. --class-weight auto (class_weight='auto') weighs each class by the "
            "inverse of its count")


def class_weights(part: folders.UserData, mode) -> dict | None:
    """`fit`'s `class_weight`: None for "none"/None; "auto" weighs class c by n / (classes x n_c) (so the
    classes weigh alike); a `{class name: weight}` dict is taken as given."""
    if mode in (None, "none"):
        return None
    counts = part.counts()
    if mode == "auto":
        total = sum(counts.values())
        return {i: total / (len(counts) * max(1, n)) for i, n in enumerate(counts.values())}
    if isinstance(mode, dict):
        unknown = sorted(set(mode) - set(counts))
        if unknown:
            raise DataError(f"class_weight names {unknown}, which are not classes ({', '.join(counts)})")
        return {i: float(mode.get(name, 1.0)) for i, name in enumerate(counts)}
    raise DataError(f"class_weight: 'auto', 'none' or a dict of class name -> weight; received {mode!r}")


def augment_spec(augment, kind: str) -> dict | None:
    """The `kerazoo.data.augment` block of `--augment` (True: `DEFAULT_AUGMENT`); images only."""
    if not augment:
        return None
    if kind != "image-folder":
        raise DataError("--augment (augment=) distorts images (kerazoo.data.augment); text fine-tunes take none")
    from kerazoo.data.augment import check_augment

    return check_augment(DEFAULT_AUGMENT if augment is True else augment)


@contextlib.contextmanager
def precision(policy: str | None):
    """Keras' global dtype policy set to `policy` while models are built and trained (None: unchanged)."""
    if policy is None:
        yield
        return
    import keras

    before = keras.config.dtype_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def mixed_precision_policy() -> str:
    """The mixed policy this machine computes faster: `mixed_float16` on an NVIDIA GPU of compute
    capability 7.0 or more, `mixed_bfloat16` on a CPU with bfloat16 instructions (AVX512-BF16, AMX);
    a `ConfigError` saying what was found otherwise (there, mixed precision only emulates and is slower)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
        if tuple(capability) >= (7, 0):
            return "mixed_float16"
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    if flags & {"avx512_bf16", "amx_bf16"}:
        return "mixed_bfloat16"
    found = f"{len(gpus)} GPU(s) below compute capability 7.0" if gpus else "no GPU"
    raise ConfigError(f"--mixed-precision (mixed_precision=True): this machine has {found} and a CPU without bfloat16 "
                    "instructions (AVX512-BF16 or AMX), where mixed precision is emulated and slower than float32; "
                    "fine-tune without it here")
