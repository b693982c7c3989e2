"""Loading shipped artifacts: sha256 verification, `safe_mode=True`, and transfer-learning surgery.

`get(name, weights=tag, include_top=False)` and `get(name, weights=tag, classes=N)` rebuild the
architecture with the overrides and copy the pretrained weights layer by layer, by the builders'
stable layer names; a fresh `predictions` head is the only layer allowed to differ.
"""
from __future__ import annotations

import json
from pathlib import Path

from kerazoo.export import sha256
from kerazoo.registry import WeightsError, builder
from kerazoo import weights
from kerazoo.weights import available

__all__ = ["load_pretrained", "verify", "artifact_path"]


def artifact_path(arch: str, tag: str) -> Path:
    return weights.artifacts_dir() / f"{arch}.{tag}"


def verify(arch: str, tag: str, files=("model.keras",)) -> Path:
    """Checks the listed files (or all with `files=None`) against the card's sha256; returns the folder."""
    card, folder = available(arch)[tag], artifact_path(arch, tag)
    for rel in files if files is not None else list(card["files"]):
        path, expected = folder / rel, card["files"].get(rel, {}).get("sha256")
        if not path.is_file():
            raise WeightsError(f"{arch}.{tag}: {path} is missing; reinstall kerazoo.")
        actual = sha256(path)
        if actual != expected:
            raise WeightsError(f"{arch}.{tag}: {path} does not match its card (sha256 {actual[:16]}..., card says "
                               f"{str(expected)[:16]}...); the file is damaged or was changed. Nothing was loaded.")
    return folder


def _network(model, arch_name: str):
    """The builder-made network inside a shipped model (text models wrap it behind a vectorizer)."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return (nested[0], True) if len(nested) == 1 and "vectorizer" in {l.name for l in model.layers} else (model, False)


def load_pretrained(arch: str, tag: str, *, compile: bool = False, **overrides):
    """Loads `saved_models/<arch>.<tag>/model.keras` (verified) and applies builder overrides."""
    card = available(arch)[tag]
    return load_file(arch, verify(arch, tag) / "model.keras", base=card["model"], recipe=card["recipe"],
                     compile=compile, label=f"{arch}.{tag}", **overrides)


def load_file(arch: str, path, *, base: dict, recipe: dict, compile: bool = False, label: str = "", **overrides):
    """Loads a `.keras` file of model `arch` (safe mode); overrides rebuild it around its weights.

    Args:
      base: the builder arguments the file was made with (overrides apply on top).
      recipe: the recipe block used when `compile=True`.
    """
    import keras

    import kerazoo.layers  # noqa: F401 - registers kerazoo's serialisable objects
    from kerazoo.recipe import Recipe, compile_model

    fn = builder(arch)  # imports the family: registers its custom classes before loading
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (give a shipped tag or a .keras file)")
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    run = path.parent / "run.json"  # a kerazoo.train run records the builder arguments it used
    if run.is_file():
        base = json.loads(run.read_text())["model"]
    if overrides:
        network, wrapped = _network(model, arch)
        new = fn(**{**base, **overrides})
        _copy_weights(network, new, label or str(path), overrides)
        if wrapped:
            from kerazoo.training.tasks import string_model

            new = string_model(model.get_layer("vectorizer"), new, model.name)
        model = new
    if compile:
        compile_model(model, Recipe(**recipe))
    return model


def _copy_weights(source, target, name: str, overrides: dict) -> None:
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        src = by_name.get(layer.name)
        if src is None or not layer.weights:
            continue
        shapes = [tuple(w.shape) for w in layer.weights], [tuple(w.shape) for w in src.weights]
        if shapes[0] == shapes[1]:
            layer.set_weights(src.get_weights())
        elif layer.name != "predictions":
            raise WeightsError(f"{name}: with {overrides} layer {layer.name!r} needs weights of shapes {shapes[0]} "
                               f"but the pretrained ones are {shapes[1]}; those overrides cannot keep the "
                               "pretrained weights (only the `predictions` head may change).")
