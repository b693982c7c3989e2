"""`kerazoo export`: a trained run (or an artifact) -> an artifact `<arch>.<tag>/` in a store.

An artifact holds `model.keras` (what `kerazoo.get` loads and fine-tuning uses), `saved_model/`
(a TF SavedModel with a `serving_default` signature on raw inputs, for TF Serving and
`kerazoo.load_saved_model`), `card.json` (data set, split, held-out metrics, parameter count,
recipe, seed, versions, sizes and sha256 of every file) and a short `README.md` card. Where it
goes and how it is written atomically and verified: `kerazoo.artifacts`. With `formats=` also
LiteRT (float, int8) and ONNX files, each measured on the held-out data by its own runtime and
checked against the SavedModel (`kerazoo.formats`).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from kerazoo import artifacts
from kerazoo.artifacts import check_tag, shipped_dir, user_dir
from kerazoo.formats import parse_formats, serving_spec, shipped_formats, write_formats
from kerazoo.registry import load_config
from kerazoo.errors import ArtifactError
from kerazoo.family import hooks
from kerazoo.patches import store_weights_once
from kerazoo.registry import builder
from kerazoo.rundir import check_writable

__all__ = ["export", "export_saved_model", "verify", "render_readme", "FINETUNE_KEYS"]

# what a fine-tuning run on the user's data records (kerazoo.training.finetune.finetune_data), carried into the card:
# the artifact it started from and its sha256, the exact preprocessing, the data and its held-out examples, the schedule
FINETUNE_KEYS = ("source", "preprocessing", "data", "finetune")


def _checked_forward(model, spec):
    """`model(x)` for a serving signature: a batch of another shape is an error naming the expected one
    (signatures do not check it themselves), and an empty batch gives empty outputs (TF 2.21's
    convolution mis-shapes an empty batch: it runs on one blank example that is then dropped)."""
    import tensorflow as tf

    def forward(x):
        x = tf.ensure_shape(x, spec.shape)
        n = tf.shape(x)[0]
        blank = tf.fill(tf.concat([[1], tf.shape(x)[1:]], 0), tf.constant("" if spec.dtype == tf.string else 0,
                                                                          spec.dtype))
        out = model(tf.cond(n > 0, lambda: x, lambda: blank), training=False)
        return tf.nest.map_structure(lambda o: o[:n], out)

    return tf.function(forward)


def export_saved_model(model, path: str | Path, *, name: str, model_kwargs: dict | None = None) -> str:
    """Writes `model` as a TF SavedModel whose `serving_default` takes raw inputs; returns a description of them.

    The endpoint is the model's forward pass (uint8 pixels when the model rescales them itself,
    raw strings for text models), or the family's `serving_endpoint(model)` (e.g. seq2seq: source
    strings in, decoded strings and attention out), written with Keras' `ExportArchive`.

    Args:
      name: the catalogue name the model was built as (its family decides the endpoint).
      model_kwargs: the builder arguments it was built with (`rescaling` means uint8 input).
    """
    import keras

    archive = keras.export.ExportArchive()
    serving = hooks(load_config(name).family).serving_endpoint
    endpoint = serving(model) if serving is not None else None
    if endpoint is not None:
        for resource in endpoint.get("track", [model]):  # what the endpoint uses (default: the model)
            archive.track(resource)
        archive.add_endpoint("serving_default", endpoint["fn"])
        input_text = endpoint["input"]
    else:  # the forward pass, as `model.export` writes it, with the batch checked
        spec, input_text = serving_spec(model, model_kwargs or {})
        if isinstance(spec, list):
            archive.track_and_add_endpoint("serving_default", model, spec)
        else:
            archive.track(model)
            archive.add_endpoint("serving_default", _checked_forward(model, spec), input_signature=[spec])
    store_weights_once(archive)
    archive.write_out(str(path), verbose=False)
    return input_text


def export(run_dir: str | Path, *, tag: str | None = None, destination: str | Path | None = None,
           notes: str | None = None, overwrite: bool = False, shadow: bool = False, shipped: bool = False,
           formats=None, data_dir=None) -> Path:
    """Turns a `kerazoo train` run directory into an artifact in the user store; returns its folder.

    Also accepts an artifact folder (`card.json` + `model.keras`): it is verified, then exported
    again with this version of kerazoo (same weights, metrics and notes; new files and checksums).

    Args:
      run_dir: a directory written by `kerazoo.train` (`model.keras` + `run.json`), or an artifact (its
        folder, or its name: `"dbn.mnist"`).
      tag: artifact tag (default: the run's data set, or the artifact's tag), giving `<arch>.<tag>`;
        a name matching `kerazoo.artifacts.TAG_PATTERN`, never a path.
      destination: the store to write into (default: the user store, `$KERAZOO_MODELS` or
        `~/.kerazoo/models`). Never the package's shipped artifacts, unless `shipped=True`.
      notes: free text for the README card (default: the artifact's own when re-exporting one).
      overwrite: replace an existing artifact of that name (atomically); otherwise an error.
      shadow: allow a user artifact with the name of a shipped one (`get` then loads the user's).
      shipped: maintainers: write into the package's `saved_models/` and its index.
      formats: what to write besides `model.keras`: `"saved_model"` (always written), `"litert"`,
        `"litert_int8"`, `"onnx"`, as a list or a comma-separated string, `"all"`, or `"shipped"`
        (what kerazoo ships: `kerazoo.formats.shipped_formats`). Default: `"shipped"` with
        `shipped=True`; else the formats the artifact already has when re-exporting one, else the
        SavedModel alone. Each file is measured on the held-out data by its own runtime and listed
        in the card (a format that cannot hold the model is listed with the reason).
      data_dir: where the data set is for those measurements and int8 calibration (else
        `KERAZOO_DATA_DIR`, else a download); without it the card says what was not measured.

    Example:
      >>> result = kerazoo.train("lenet5", epochs=2)
      >>> kerazoo.export(result.output, tag="quick")     # ~/.kerazoo/models/lenet5.quick
      >>> kerazoo.get("lenet5.quick")
      >>> kerazoo.export(result.output, tag="quick", overwrite=True, formats="all", data_dir="~/data")
      >>> kerazoo.get("lenet5.quick", format="litert")(uint8_digits)
    """
    import keras

    run_dir = _source(run_dir)
    if not (run_dir / "run.json").is_file() and (run_dir / "card.json").is_file():
        card = artifacts.verify(run_dir)  # a folder whose files no longer match its card is not re-signed
        run, tag = {**card, "name": card["arch"]}, tag or card["tag"]
        notes = card.get("notes", "") if notes is None else notes
        formats = list(card.get("formats", ["saved_model"])) if formats is None and not shipped else formats
    elif (run_dir / "run.json").is_file():
        run = json.loads((run_dir / "run.json").read_text())
        run["records"] = {p.stem: json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))
                          if p.name != "run.json"}  # e.g. pretraining.json: per-layer reconstruction errors
    else:
        raise ArtifactError(f"{run_dir} is neither a run directory (run.json + model.keras, from kerazoo train) nor an "
                            "artifact folder (card.json + model.keras).")
    formats = formats if formats is not None else "shipped" if shipped else "saved_model"
    arch, tag = run["name"], check_tag(tag or run["dataset"])
    name = f"{arch}.{tag}"
    store = Path(destination).expanduser() if destination is not None else shipped_dir() if shipped else user_dir()
    artifacts.check_store(store, shipped=shipped)  # never into the package (but --shipped) nor into an artifact
    check_writable(store, "--destination" if destination is not None else "the user store")
    existing = artifacts.find(arch, tag)
    if store.resolve() == user_dir().resolve() and not shadow and existing is not None and existing.shipped:
        raise ArtifactError(f"{name} is a shipped artifact; choose another tag, or pass shadow=True (--shadow) to "
                            "have your artifact take its place for kerazoo.get.")
    builder(arch)  # imports the family, registering its custom layers
    import kerazoo.layers  # noqa: F401 - and kerazoo's own (a text model's vectorizer standardisation)
    with tempfile.TemporaryDirectory() as tmp:  # the source may be the destination: read it first
        shutil.copy(artifacts.check_keras_file(run_dir / "model.keras"), Path(tmp) / "model.keras")
        model = keras.saving.load_model(Path(tmp) / "model.keras", compile=False, safe_mode=True)
    for layer in model.layers:  # a nested network trained on its own keeps its optimizer: not shipped
        if isinstance(layer, keras.Model) and layer.compiled:
            layer.optimizer, layer.compiled = None, False

    formats = shipped_formats(model.count_params()) if formats == "shipped" else parse_formats(formats)

    def fill(folder: Path) -> dict:
        model.save(folder / "model.keras")  # uncompiled: no optimizer state in the shipped file
        input_text = export_saved_model(model, folder / "saved_model", name=arch, model_kwargs=run["model"])
        card = {"name": name, "arch": arch, "tag": tag, "task": load_config(arch).task,  # for the Hub card
                "dataset": run["dataset"], "split": run["split"],
                "metrics": run["metrics"], "num_params": int(model.count_params()), "input": input_text,
                "class_names": run.get("class_names"), "model": run["model"], "recipe": run["recipe"],
                "seed": run["seed"], "epochs_run": run["epochs_run"], "train_seconds": run["train_seconds"],
                "versions": run["versions"], "records": run.get("records", {}), "notes": notes or "",
                **{key: run[key] for key in FINETUNE_KEYS if run.get(key) is not None}}
        return {**card, **write_formats(model, folder, name=name, arch=arch, card=card, formats=formats,
                                        data_dir=data_dir)}

    return artifacts.write_artifact(store, name, fill, overwrite=overwrite)


def _source(run_dir: str | Path) -> Path:
    """A run directory or artifact folder (a path), or an artifact by name (`"dbn.mnist"`)."""
    path = Path(run_dir).expanduser()
    if not path.exists() and isinstance(run_dir, str) and "/" not in run_dir and "." in run_dir:
        artifact = artifacts.find(*artifacts.split_name(run_dir))
        if artifact is not None:
            return artifact.folder
    return path


def render_readme(folder: str | Path) -> Path:
    """Writes an artifact's `README.md` again from its verified card with this version's renderer (Hub
    front matter, intended use, limitations); returns its path.

    No index or card pins `README.md` (it is rendered from the card), so every hash stays as it was:
    maintainers use this on the shipped artifacts after the renderer changes (tests/test_mirrors.py
    fails while a shipped README differs from what this writes).
    """
    folder = Path(folder)
    card = artifacts.verify(folder)
    text = artifacts.card_readme(card, task=card.get("task") or load_config(card["arch"]).task)
    tmp = folder / f".{artifacts.README}.{secrets.token_hex(4)}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / artifacts.README)
    return folder / artifacts.README


class _CallableModule(type(artifacts)):
    """`kerazoo.export(...)` is the function `export` even after this module is imported: Python binds a
    submodule to its parent package's attribute of the same name on first import, which would otherwise
    turn `kerazoo.export` into this module after the first call (`'module' object is not callable`)."""

    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
