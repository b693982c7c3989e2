"""`kerazoo.finetune`: the standard two-phase transfer-learning schedule (Keras' own guide).

Phase 1 trains only the new head on a frozen backbone; phase 2 unfreezes the top of the backbone
and trains on at a lower learning rate. BatchNormalization layers stay frozen throughout, which
in Keras 3 also keeps them in inference mode, so their statistics are not destroyed by a small
target set.

On the user's own data (`finetune("lenet5.mnist", data="letters/")`, `kerazoo finetune ... --data`):
a folder of images or text files in class subfolders, or a CSV/TSV table (`kerazoo.data.folders`),
read into exactly what the pretrained model takes, split (stratified, seeded), fine-tuned with a
new head sized from the classes found, measured on the held-out split, plotted, and exported as a
user artifact (`kerazoo.get("lenet5.letters")`) whose card records the class names, the metrics,
the source artifact and its sha256, and the exact preprocessing (`finetune_data`; its parts are in
`kerazoo.training.userdata`).

Under a distribution strategy (`strategy=`) both phases run `fit` inside its scope; a model built
elsewhere is copied into the scope, trained there, and its weights written back.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from kerazoo.inputs import check_model_data
from kerazoo.rundir import check_writable, claim
from kerazoo.training import userdata
from kerazoo.training.userdata import FinetuneResult

__all__ = ["finetune", "finetune_data", "auto_epochs", "FinetuneResult"]


def _as_dataset(data, batch_size: int, shuffle: bool, seed: int):
    if data is None or hasattr(data, "element_spec"):
        return data
    from kerazoo.data.sources import to_dataset

    return to_dataset(tuple(data), batch_size=batch_size, shuffle=shuffle, seed=seed)


def finetune(model, train=None, validation=None, *, data=None, head: Sequence[str] = ("predictions",),
             head_epochs: int | None = None, finetune_epochs: int | None = None, learning_rate: float = 1e-3,
             finetune_learning_rate: float | None = None, unfreeze: int | None = None, loss: str | None = None,
             metrics: Sequence[str] = ("accuracy",), batch_size: int = 32, seed: int = 1337, callbacks: Sequence = (),
             verbose="auto", strategy=None, patience: int | None = None, class_weight: dict | None = None,
             backups=None, **data_options):
    """Fine-tunes a pretrained model on new data in two phases; returns both histories.

    With `data=PATH` (the user's folder or table) it runs the whole path instead and returns a
    `FinetuneResult`: `finetune("lenet5.mnist", data="letters/", tag="myletters")`; see
    `finetune_data` for `data_options` (tag, validation_split, test_split, encoding, text_column,
    label_column, baseline, output, destination, overwrite, shadow, weights).

    Args:
      model: e.g. `kerazoo.get("lenet5", weights="mnist", classes=5)`; trained in place. With
        `data=`: the pretrained artifact's name (`"lenet5.mnist"`).
      train: a `tf.data.Dataset` of `(x, y)` batches (the global batch under a strategy) or an
        `(x, y)` pair of arrays.
      validation: the same, or None (with `data=`: a held-out folder or table, or None).
      data: a folder of images or text files in class subfolders, or a CSV/TSV table.
      head: names of the layers trained in phase 1 (the new head).
      head_epochs: phase-1 epochs (frozen backbone); None: 5 (with `data=`: see `auto_epochs`).
      finetune_epochs: phase-2 epochs (top of the backbone unfrozen); 0 skips phase 2; None as above.
      learning_rate: phase-1 Adam learning rate.
      finetune_learning_rate: phase-2 learning rate (default `learning_rate / 10`).
      unfreeze: how many of the backbone's top weighted layers phase 2 trains (None: all).
      loss: default sparse categorical cross-entropy (several outputs) or binary cross-entropy.
      metrics, seed, callbacks, verbose: as for `fit`.
      batch_size: per replica, for arrays (their batches hold `batch_size` x replicas examples).
      patience: stop a phase when `val_loss` (else `loss`) has not improved for this many epochs, keeping
        its best weights (`keras.callbacks.EarlyStopping`); None runs every epoch.
      class_weight: `fit`'s `{class id: weight}`, or None.
      backups: a `kerazoo.training.phases.PhaseBackups`: each phase backed up every epoch and resumed
        after a kill (a finished phase is not run again); None keeps nothing.
      strategy: None (the strategy the model was built under, usually TensorFlow's default), a kind
        of `kerazoo.distribute.strategy` (`cpu`, `gpu`, `mirrored`, `tpu`) or a
        `tf.distribute.Strategy`. A model built outside that strategy's scope is copied into it,
        fine-tuned there, and the trained weights are written back into `model` (compiled as the
        last phase). `multiworker` is refused: fine-tuning runs Keras' `fit`, which fails there.

    Returns:
      `{"head": history dict, "finetune": history dict}`.

    Example:
      >>> model = kerazoo.get("lenet5.mnist", classes=10)
      >>> kerazoo.finetune(model, (x_small, y_small), head_epochs=3, finetune_epochs=3)
      >>> kerazoo.finetune(model, (x_small, y_small), strategy="mirrored")   # every local GPU
    """
    if data is not None:
        if train is not None:
            raise ValueError("finetune: give the training data either as train=(x, y) / a dataset or as data=PATH, "
                             "not both")
        return finetune_data(model, data, validation, head_epochs=head_epochs, finetune_epochs=finetune_epochs,
                             learning_rate=learning_rate, finetune_learning_rate=finetune_learning_rate,
                             unfreeze=unfreeze, batch_size=batch_size, seed=seed, callbacks=callbacks, verbose=verbose,
                             strategy=strategy, patience=patience, class_weight=class_weight, **data_options)
    if data_options:
        raise TypeError(f"finetune: {', '.join(sorted(data_options))} apply only with data=PATH")
    if isinstance(class_weight, str):
        raise TypeError(f"finetune: class_weight={class_weight!r} applies with data=PATH; with arrays give "
                        "{class id: weight}")
    if train is None:
        raise ValueError("finetune needs training data: train=(x, y) or a tf.data.Dataset, or data=PATH (a folder or "
                         "a table)")
    head_epochs = 5 if head_epochs is None else head_epochs
    finetune_epochs = 5 if finetune_epochs is None else finetune_epochs
    import keras

    from kerazoo import distribute

    unknown = [name for name in head if name not in {layer.name for layer in model.layers}]
    if unknown:
        raise ValueError(f"finetune: head layers {unknown} are not in model {model.name!r}. "
                         f"Its last layers: {[layer.name for layer in model.layers[-4:]]}")
    distribute.refuse_multiworker(strategy or distribute.strategy_of(model), "finetune",
                                  instead="kerazoo.train(..., strategy='multiworker') trains a recipe on several "
                                          "machines.")
    for part, given in (("train", train), ("validation", validation)):
        _check_not_empty(given, f"finetune {part} data")
    check_model_data(model, train, where="finetune train data")  # before any training: NaN, range, labels
    strategy = distribute.as_strategy(strategy, what="finetune strategy")
    target = (model if strategy is None or distribute.strategy_of(model) is strategy
              else distribute.copy_model(model, strategy, compile=False))
    replicas = distribute.replicas(distribute.strategy_of(target))
    train = _as_dataset(train, batch_size * replicas, True, seed)
    validation = _as_dataset(validation, batch_size * replicas, False, seed)
    loss = loss or ("sparse_categorical_crossentropy" if model.output_shape[-1] > 1 else "binary_crossentropy")
    weighted = [layer.name for layer in model.layers if layer.weights and layer.name not in head]
    trained = set(weighted[-unfreeze:] if unfreeze else weighted)
    sync = [distribute.SyncMovingStatistics()] if replicas > 1 else []
    histories = {}

    def freeze(m, phase):
        m.trainable = True
        for layer in m.layers:
            if layer.name in weighted:
                layer.trainable = phase == "finetune" and layer.name in trained
            if phase == "finetune" and isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False

    def compile_for(m, lr):
        built_under = distribute.strategy_of(m)
        with built_under.scope() if built_under is not None else contextlib.nullcontext():
            m.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=list(metrics))

    def run(phase, epochs, lr):
        freeze(target, phase)
        compile_for(target, lr)
        if backups is not None and backups.done(phase):  # finished before a kill: not run again
            backups.restore(phase, target)
            histories[phase] = backups.history(phase)
            return lr
        own = backups.callbacks(phase) if backups is not None else []  # first: restores before the others start
        stop = [keras.callbacks.EarlyStopping("val_loss" if validation is not None else "loss", patience=patience,
                                              restore_best_weights=True)] if patience else []
        fit = target.fit(train, validation_data=validation, epochs=epochs, callbacks=[*own, *sync, *stop, *callbacks],
                         verbose=verbose, shuffle=False, class_weight=class_weight)  # the pipeline shuffles, seeded
        histories[phase] = backups.history(phase) if backups is not None else \
            {k: [float(v) for v in vs] for k, vs in fit.history.items()}
        if backups is not None:
            backups.finish(phase, target)
        return lr

    lr = run("head", head_epochs, learning_rate)
    if finetune_epochs:
        lr = run("finetune", finetune_epochs, finetune_learning_rate or learning_rate / 10)
    if target is not model:  # written back: the caller's model ends as if trained in place
        freeze(model, "finetune" if finetune_epochs else "head")
        model.set_weights(target.get_weights())
        compile_for(model, lr)
    return histories


def _check_not_empty(data, where: str) -> None:
    """A `DataError` for `(x, y)` arrays without examples or a pipeline known to be empty (`fit` would fail deep
    inside TensorFlow: a shuffle buffer of size 0)."""
    from kerazoo.errors import DataError

    if data is None:
        return
    if hasattr(data, "cardinality"):
        empty = int(data.cardinality()) == 0
    else:
        first = data[0] if isinstance(data, (tuple, list)) and data else data
        empty = len(first) == 0 if hasattr(first, "__len__") else False
    if empty:
        raise DataError(f"{where} holds no examples; accepted: (x, y) arrays or a tf.data pipeline with at least one "
                        "example")


def auto_epochs(examples: int, batch_size: int, *, steps: int = 100) -> int:
    """Epochs of a fine-tuning phase when none are given: about `steps` optimizer steps, at least 5
    and at most 50 epochs (a folder of 50 images at batch 32 gets 50 epochs, one of 10,000 gets 5)."""
    return min(50, max(5, math.ceil(steps / max(1, math.ceil(examples / batch_size)))))


def finetune_data(name: str, data, validation=None, *, weights: str | os.PathLike | None = None,
                  tag: str | None = None, validation_split: float = 0.2, test_split: float = 0.0,
                  encoding: str = "utf-8", text_column: str = "text", label_column: str = "label",
                  head_epochs: int | None = None, finetune_epochs: int | None = None, learning_rate: float = 1e-3,
                  finetune_learning_rate: float | None = None, unfreeze: int | None = None, batch_size: int = 32,
                  seed: int = 1337, baseline: bool = False, output=None, destination=None, overwrite: bool = False,
                  shadow: bool = False, callbacks: Sequence = (), verbose="auto", strategy=None,
                  patience: int | None = None, augment=None, class_weight="none",
                  mixed_precision: bool = False) -> FinetuneResult:
    """Fine-tunes a pretrained artifact on the user's folder or table and exports the result.

    Args:
      name: the pretrained artifact (`"lenet5.mnist"`), or a model name with `weights=`.
      data: a folder with one subfolder of images (any size and colour mode) or of `.txt` files per
        class, or a `.csv` / `.tsv` table with a header row (`text_column`, `label_column`).
      validation: a held-out folder or table with the same classes; None holds out
        `validation_split` of each class (seeded by `seed`).
      weights: an artifact tag, or the path of an artifact folder or `.keras` file.
      tag: the new artifact's tag (default: from the data's folder or file name), giving
        `<arch>.<tag>` in the user store (or `destination`); `overwrite`, `shadow` as for `export`.
      test_split: a further fraction of each class held out as a test split, measured once at the end.
      encoding: of text files and tables (UTF-8 by default; any Python codec).
      head_epochs, finetune_epochs: epochs of each phase; None: `auto_epochs` (about 100 steps each,
        5 to 50 epochs: small folders get enough steps, large ones 5 epochs).
      learning_rate, finetune_learning_rate, unfreeze, batch_size, callbacks, verbose, strategy: as
        for `finetune`.
      baseline: also train the same architecture from scratch (same data, epochs, batch size and
        learning rate) and record its validation metrics beside the fine-tuned ones.
      output: the run folder (default `kerazoo_runs/<arch>.<tag>`): `model.keras`, `run.json`,
        `history.csv`, `learning_curves.png`, `confusion_matrix.png`. While it runs it holds the
        folder's lock and its `backup/` (`kerazoo.training.phases`): rerunning the same command after
        a kill resumes (a finished phase is not run again, the other continues after its last epoch).
      patience: early stopping of each phase on `val_loss` (best weights kept); None runs every epoch.
      augment: images only: True (`userdata.DEFAULT_AUGMENT`) or a `kerazoo.data.augment` block, applied
        to the training batches.
      class_weight: "none", "auto" (each class weighted by the inverse of its count) or
        `{class name: weight}`. Imbalanced classes (`userdata.IMBALANCE_RATIO`) are warned about.
      mixed_precision: train in the mixed policy this machine computes faster (`mixed_float16` on a
        recent GPU, `mixed_bfloat16` on a CPU with bfloat16 instructions); a `ConfigError` elsewhere.

    Returns:
      A `FinetuneResult` (model, artifact folder, metrics, history, plots, baseline).

    Example:
      >>> result = kerazoo.finetune("lenet5.mnist", data="letters/", tag="myletters")
      >>> model = kerazoo.get("lenet5.myletters")
      >>> model.predict(kerazoo.data.folders.read_images(["new.png"], like=model))
    """
    from kerazoo import distribute
    from kerazoo.artifacts import split_name
    from kerazoo.errors import ConfigError, WeightsError
    from kerazoo.loading import get
    from kerazoo.registry import load_config

    arch, named = split_name(name)
    if named is not None and weights is not None and weights != named:
        raise WeightsError(f"{name!r} already names weights {named!r}; received weights={weights!r} too")
    weights = named or weights
    if weights is None:
        raise WeightsError(f"fine-tuning starts from pretrained weights: give {arch}.TAG, or --weights (weights=) a "
                           "tag, a .keras file or an artifact folder (kerazoo list --pretrained)")
    task = load_config(arch).task
    if task not in ("image-classification", "text-classification"):
        raise ConfigError(f"{arch} is a model for {task}; fine-tuning on a folder or table works for image and text "
                          "classifiers")
    tag = userdata.default_tag(data) if tag is None else tag
    userdata.check_destination(arch, tag, destination, overwrite=overwrite, shadow=shadow)
    out = Path(output or Path("kerazoo_runs") / f"{arch}.{tag}").expanduser()
    check_writable(out, "--output")  # before any training
    policy = userdata.mixed_precision_policy() if mixed_precision else None
    distribute.refuse_multiworker(strategy, "finetune")
    strategy = distribute.as_strategy(strategy, what="finetune strategy")
    scope = distribute.scope(strategy) if strategy is not None else contextlib.nullcontext()
    started = time.time()
    with scope:
        pretrained = get(arch, weights=weights)
    source = userdata.source_record(arch, weights)
    user, parts, held_out = userdata.read_parts(
        data, validation, like=pretrained, validation_split=validation_split, test_split=test_split, seed=seed,
        encoding=encoding, text_column=text_column, label_column=label_column)
    auto = auto_epochs(len(parts["train"].y), batch_size)
    head_epochs = auto if head_epochs is None else head_epochs
    finetune_epochs = auto if finetune_epochs is None else finetune_epochs
    print(f"{user.source}: {user.describe()}; " + ", ".join(f"{k} {len(p.y)}" for k, p in parts.items() if p)
          + f"; {head_epochs} + {finetune_epochs} epochs of {math.ceil(len(parts['train'].y) / batch_size)} steps")
    warning = userdata.imbalance(user.counts())
    if warning and class_weight in (None, "none"):
        print(f"warning: {warning}", file=sys.stderr)
    augment, weights_of_classes = userdata.augment_spec(augment, user.kind), userdata.class_weights(parts["train"],
                                                                                                    class_weight)
    settings = {"source": source, "data": str(user.source.resolve()), "validation": validation and str(validation),
                "split": [validation_split, test_split, seed], "epochs": [head_epochs, finetune_epochs],
                "learning_rate": [learning_rate, finetune_learning_rate], "unfreeze": unfreeze,
                "batch_size": batch_size, "patience": patience, "augment": augment, "class_weight": class_weight,
                "mixed_precision": policy}
    with claim(out, progress=lambda: (out / "backup").is_dir()), userdata.precision(policy):
        return _train_and_export(**locals())


def _train_and_export(*, arch, tag, weights, user, parts, held_out, source, settings, out, scope, strategy, started,
                      head_epochs, finetune_epochs, learning_rate, finetune_learning_rate, unfreeze, batch_size, seed,
                      baseline, destination, overwrite, shadow, callbacks, verbose, validation, validation_split,
                      patience, augment, weights_of_classes, policy, **_):
    """The rest of `finetune_data`, in the run folder it holds: fine-tune (resumable), measure, plot, export."""
    import dataclasses
    import json

    import keras

    from kerazoo import distribute, plots
    from kerazoo.exporting import export
    from kerazoo.loading import build, get, trained_with
    from kerazoo.recipe import Recipe
    from kerazoo.models.common import split_string_model, string_model
    from kerazoo.training.phases import PhaseBackups
    from kerazoo.training.run import versions

    head = userdata.head_for(user.class_names)
    binary = head["classes"] == 1
    keras.utils.set_random_seed(seed)
    with scope:
        model = get(arch, weights=weights, **head)
    vectorizer, network = split_string_model(model)
    userdata.reinitialise(network.get_layer("predictions"))
    kwargs = {**trained_with(arch, weights)["model"], **head}
    batch = distribute.global_batch_size(batch_size, strategy)

    def batches(part, shuffle):
        x = userdata.network_inputs(part, vectorizer)
        return userdata.pipeline(x, userdata.targets(part, binary), batch_size=batch, shuffle=shuffle, seed=seed,
                                 text=vectorizer is not None)

    train, val = batches(parts["train"], True), batches(parts["validation"], False)
    if augment:  # the training batches only
        from kerazoo.data.augment import augment_dataset

        train = augment_dataset(train, augment, seed=seed)
    backups = PhaseBackups(out / "backup", settings)
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    histories = finetune(network, train, val, head_epochs=head_epochs, finetune_epochs=finetune_epochs,
                         learning_rate=learning_rate, finetune_learning_rate=finetune_learning_rate, unfreeze=unfreeze,
                         loss=loss, batch_size=batch_size, seed=seed, callbacks=callbacks, verbose=verbose,
                         strategy=strategy, patience=patience, class_weight=weights_of_classes, backups=backups)
    final = string_model(vectorizer, network, model.name) if vectorizer is not None else network
    metrics, held = userdata.measure(final, parts["validation"], "val", binary=binary)
    if parts["test"] is not None:
        test_metrics, held = userdata.measure(final, parts["test"], "test", binary=binary)
        metrics.update(test_metrics)
    scratch = None
    if baseline:  # the same architecture, data and budget from random weights (the vectorizer is preprocessing)
        keras.utils.set_random_seed(seed)
        with scope:
            fresh = build(arch, kwargs)
            fresh.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
        fresh.fit(train, validation_data=val, epochs=head_epochs + finetune_epochs, verbose=verbose, shuffle=False)
        fresh = string_model(vectorizer, fresh, model.name) if vectorizer is not None else fresh
        scratch = userdata.measure(fresh, parts["validation"], "val", binary=binary)[0]

    tag_name = f"{arch}.{tag}"
    history = {k: histories["head"].get(k, []) + histories.get("finetune", {}).get(k, []) for k in histories["head"]}
    userdata.write_history(history, out / "history.csv")
    held_split = "test" if parts["test"] is not None else "validation"
    shown = [plots.learning_curves(history, out / "learning_curves.png",
                                   title=f"{tag_name}: fine-tuned from {source.get('name') or source.get('path')}",
                                   marks={head_epochs: "backbone unfrozen"} if finetune_epochs else None),
             plots.confusion_matrix_plot(*held, out / "confusion_matrix.png", user.class_names,
                                         title=f"{tag_name}\non {held_split}:")]
    final.save(out / "model.keras")
    recipe = Recipe(dataset=None, optimizer="adam", learning_rate=learning_rate, loss=loss, metrics=["accuracy"],
                    batch_size=batch_size, epochs=head_epochs + finetune_epochs,
                    validation_split=validation_split if validation is None else 0.0,
                    seed=seed)
    counts = {k: len(p.y) for k, p in parts.items() if p is not None}
    run = {"name": arch, "dataset": f"{user.source.name}: your {user.describe()}",
           "split": held_split if held_split == "validation" else "validation and test", "metrics": metrics,
           "model": kwargs, "recipe": dataclasses.asdict(recipe), "seed": seed,
           "epochs_run": len(history.get("loss", [])), "train_seconds": round(time.time() - started, 1),
           "class_names": list(user.class_names), "versions": versions(), "source": source,
           "preprocessing": user.preprocessing,
           "data": {"path": str(user.source.resolve()), "kind": user.kind, "classes": user.counts(),
                    "examples": counts, "held_out": held_out,
                    "held_out_examples": {k: parts[k].origins for k in ("validation", "test") if parts[k] is not None}},
           "finetune": {"head": f"new predictions layer: {head['classes']} {head['classifier_activation']} unit(s)",
                        "head_epochs": head_epochs, "finetune_epochs": finetune_epochs, "learning_rate": learning_rate,
                        "finetune_learning_rate": finetune_learning_rate or learning_rate / 10, "unfreeze": unfreeze,
                        "batch_size": batch_size, "baseline_from_scratch": scratch, "patience": patience,
                        "augment": augment, "class_weight": weights_of_classes and
                        {user.class_names[i]: round(w, 4) for i, w in weights_of_classes.items()},
                        "mixed_precision": policy}}
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    artifact = export(out, tag=tag, destination=destination, overwrite=overwrite, shadow=shadow)
    backups.clear()  # done: the next run starts afresh
    return FinetuneResult(final, artifact, metrics, history, out, list(user.class_names), shown, scratch)
