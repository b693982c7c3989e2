"""`kerazoo export`: a trained run -> a shipped artifact `saved_models/<arch>.<tag>/`.

An artifact holds `model.keras` (what `kerazoo.get` loads and fine-tuning uses), `saved_model/`
(a TF SavedModel with a `serving_default` signature on raw inputs, for TF Serving and
`tf.saved_model.load`), `card.json` (data set, split, held-out metrics, parameter count,
recipe, seed, versions, sizes and sha256 of every file) and a short `README.md` card.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from kerazoo.weights import artifacts_dir

__all__ = ["export", "export_saved_model", "file_table", "sha256"]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict]:
    """`{relative path: {"bytes", "sha256"}}` for every file of an artifact but its card files."""
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in ("card.json", "README.md")}


def _serving_spec(model, model_kwargs: dict):
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


def _store_weights_once(archive) -> None:
    """Makes a `keras.export.ExportArchive` store every weight once; call it before `write_out`.

    Keras 3.15 writes each variable twice into a SavedModel (keras-team/keras#23553, fix pending
    in #23563): `track()` keeps the `keras.Variable` wrappers, the endpoints capture the
    `tf.Variable`s inside them, and TensorFlow's checkpoint de-duplication sees two objects. Like
    that fix, this points the tracked collections at the `tf.Variable`s, halving the artifact (and
    the memory TF Serving holds) with the same signatures and variables.
    """
    for attr in ("variables", "trainable_variables", "non_trainable_variables"):
        tracked = getattr(archive._tf_trackable, attr, None)
        if tracked is not None:
            setattr(archive._tf_trackable, attr, [getattr(v, "value", v) for v in tracked])


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

    from kerazoo.config import load_config
    from kerazoo.training.tasks import family_hook

    archive = keras.export.ExportArchive()
    endpoint = family_hook(load_config(name).family, "serving_endpoint", None, model)
    if endpoint is not None:
        for resource in endpoint.get("track", [model]):  # what the endpoint uses (default: the model)
            archive.track(resource)
        archive.add_endpoint("serving_default", endpoint["fn"])
        input_text = endpoint["input"]
    else:  # what `model.export` does
        spec, input_text = _serving_spec(model, model_kwargs or {})
        archive.track_and_add_endpoint("serving_default", model, spec if isinstance(spec, list) else [spec])
    _store_weights_once(archive)
    archive.write_out(str(path), verbose=False)
    return input_text


def export(run_dir: str | Path, *, tag: str | None = None, destination: str | Path | None = None,
           notes: str | None = None) -> Path:
    """Turns a `kerazoo train` run directory into a shipped artifact; returns its folder.

    Also accepts an artifact folder (`card.json` + `model.keras`): it is exported again with this
    version of kerazoo (same weights, metrics and notes; new files and checksums).

    Args:
      run_dir: a directory written by `kerazoo.train` (`model.keras` + `run.json`), or an artifact.
      tag: artifact tag (default: the run's data set, or the artifact's tag), giving `<arch>.<tag>`.
      destination: parent folder (default: the package's `saved_models/`).
      notes: free text for the README card (e.g. what differs from the paper); default: the
        artifact's own when re-exporting one.
    """
    import tempfile

    import keras

    from kerazoo.registry import builder

    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file() and (run_dir / "card.json").is_file():
        card = json.loads((run_dir / "card.json").read_text())
        run, tag = {**card, "name": card["arch"]}, tag or card["tag"]
        notes = card.get("notes", "") if notes is None else notes
    else:
        run = json.loads((run_dir / "run.json").read_text())
        run["records"] = {p.stem: json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))
                          if p.name != "run.json"}  # e.g. pretraining.json: per-layer reconstruction errors
    arch, tag = run["name"], tag or run["dataset"]
    builder(arch)  # imports the family, registering its custom layers
    with tempfile.TemporaryDirectory() as tmp:  # the source may be the destination: read it first
        shutil.copy(run_dir / "model.keras", Path(tmp) / "model.keras")
        model = keras.saving.load_model(Path(tmp) / "model.keras", compile=False, safe_mode=True)
    for layer in model.layers:  # a nested network trained on its own keeps its optimizer: not shipped
        if isinstance(layer, keras.Model) and layer.compiled:
            layer.optimizer, layer.compiled = None, False
    dest = Path(destination or artifacts_dir()) / f"{arch}.{tag}"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    model.save(dest / "model.keras")  # uncompiled: no optimizer state in the shipped file
    input_text = export_saved_model(model, dest / "saved_model", name=arch, model_kwargs=run["model"])
    card = {"name": f"{arch}.{tag}", "arch": arch, "tag": tag, "dataset": run["dataset"], "split": run["split"],
            "metrics": run["metrics"], "num_params": int(model.count_params()), "input": input_text,
            "class_names": run.get("class_names"), "model": run["model"], "recipe": run["recipe"],
            "seed": run["seed"], "epochs_run": run["epochs_run"], "train_seconds": run["train_seconds"],
            "versions": run["versions"], "records": run.get("records", {}), "notes": notes or "",
            "files": file_table(dest)}
    (dest / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (dest / "README.md").write_text(_readme(card, notes or ""))
    return dest


def _readme(card: dict, notes: str) -> str:
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in card["metrics"].items())
    files = "\n".join(f"| `{k}` | {v['bytes']:,} | `{v['sha256'][:16]}...` |" for k, v in card["files"].items())
    r = card["recipe"]
    records = "".join(f"- Training record `{k}`: `{json.dumps(v)}`\n" for k, v in card.get("records", {}).items())
    return f"""# {card['name']}

`kerazoo.get("{card['name']}")` loads `model.keras` offline (sha256-checked);
`tf.saved_model.load("saved_model").signatures["serving_default"]` serves it.

- Input: {card['input']} (preprocessing is inside the model).
- Data: {card['dataset']}, metrics on the held-out `{card['split']}` split.
- Parameters: {card['num_params']:,}. Seed {card['seed']}, {card['epochs_run']} epochs, {card['train_seconds']} s on the
  training machine; TensorFlow {card['versions']['tensorflow']}, Keras {card['versions']['keras']}.
- Recipe: {r['optimizer']} lr={r['learning_rate']} batch={r['batch_size']} epochs<={r['epochs']}; builder arguments
  `{json.dumps(card['model'])}`.
{records}
{notes}

| metric | value |
|---|---|
{metrics}

| file | bytes | sha256 |
|---|---|---|
{files}
"""
