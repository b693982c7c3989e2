"""`kerazoo.train` and `kerazoo.evaluate`: a model's recipe run with Keras' own machinery.

`fit` with callbacks: `BackupAndRestore` (a killed run resumes at the epoch it reached; the backup is
kept until `run.json` is written, so a run killed after training resumes with its final weights),
best-model checkpointing, the recipe's early stopping / learning-rate schedule, TensorBoard logs
and a CSV log; Keras' progress bar. At the end: test metrics, the trained model in its shipped
raw-input form (`model.keras`), `run.json` (everything `kerazoo export` needs) and plots.

Under a distribution strategy (`strategy=`) the same run, built in `kerazoo.distribute.scope`;
under `MultiWorkerMirroredStrategy`, where Keras' `fit` fails, `kerazoo.distribute.fit_multiworker`
takes its place (its checkpoints replace `BackupAndRestore`) and only the chief writes files.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerazoo.config import check_dataclass, check_kwargs, read_overlay, recipe_named
from kerazoo.loading import build
from kerazoo.recipe import Recipe, infer_direction, named_recipe
from kerazoo.registry import load_config
from kerazoo.rundir import claim
from kerazoo.training import callbacks as fit_assembly

__all__ = ["train", "evaluate", "TrainResult", "resolve"]


@dataclasses.dataclass
class TrainResult:
    model: Any                 # the trained model in its shipped (raw-input) form
    history: dict              # per-epoch metrics of the whole run (resumes included)
    metrics: dict              # test-split metrics
    output: Path               # run directory
    plots: list = dataclasses.field(default_factory=list)


def resolve(name: str, *, config: str | Path | dict | None = None, model_overrides: dict | None = None,
            recipe: str | None = None, **recipe_overrides) -> tuple[Any, Recipe, dict]:
    """`(config, recipe, builder kwargs)` for a run: config (its `recipe:`, or the named recipe `recipe` of its
    `recipes:`) < overlay < explicit overrides; the builder kwargs are checked here once (build them with
    `kerazoo.loading.build`)."""
    cfg = load_config(name)
    base = recipe_named(cfg.recipe, cfg.recipes, recipe, str(cfg.path or name))
    fn = cfg.builder
    overlay = read_overlay(config) if isinstance(config, (str, Path)) else (config or {})
    source = str(config) if isinstance(config, (str, Path)) else "the config overlay"
    check_dataclass(Recipe, overlay.get("recipe", {}), f"{source} (recipe)")
    recipe_raw = {**named_recipe(base, overlay.get("recipe", {})),  # its model: and data: merge, as a named recipe's
                  **{k: v for k, v in recipe_overrides.items() if v is not None}}
    recipe = Recipe(**check_dataclass(Recipe, recipe_raw, f"{name} recipe"))
    kwargs = check_kwargs(fn, {**cfg.model, **recipe.model, **overlay.get("model", {}), **(model_overrides or {})},
                          f"{name} model arguments")
    fit_assembly.check_recipe_callbacks(  # before anything heavy: a typo in an option is not a crash after the data
        recipe.callbacks, f"{source if 'callbacks' in overlay.get('recipe', {}) else cfg.path} (recipe)")
    return cfg, recipe, kwargs


def train(name: str, *, output: str | Path | None = None, epochs: int | None = None, batch_size: int | None = None,
          learning_rate: float | None = None, dataset: str | None = None, seed: int | None = None, data_dir=None,
          config: str | Path | dict | None = None, model_overrides: dict | None = None,
          callbacks: Sequence = (), verbose: str | int = "auto", strategy=None, recipe: str | None = None,
          lr: float | None = None) -> TrainResult:
    """Trains a catalogue model by its config's recipe (or another recipe its config names).

    Args:
      name: registered model name.
      output: run directory (default `kerazoo_runs/<name>`); running again into a directory
        whose run was interrupted resumes it.
      epochs, batch_size, learning_rate, dataset, seed: recipe overrides (`batch_size` is per replica).
      data_dir: where the data set's files are (see `kerazoo.data`).
      config: a config overlay (YAML path or dict with `model:`/`recipe:` blocks), e.g. the
        best hyperparameters of a search. Its `recipe:` goes on top of the recipe as a named recipe
        does: its `model:` and `data:` merge key by key, its other keys replace.
      recipe: a named recipe of the config's `recipes:` block (e.g. `"fast"`) instead of its `recipe:`.
      model_overrides: builder arguments on top of the recipe's.
      callbacks: extra Keras callbacks.
      verbose: Keras' `fit` verbosity (progress bar by default).
      lr: the former name of `learning_rate` (until kerazoo 0.2).
      strategy: None (TensorFlow's default strategy), a kind of `kerazoo.distribute.strategy`
        (`auto`, `cpu`, `gpu`, `mirrored`, `tpu`, `multiworker`) or a `tf.distribute.Strategy`.
        The model is built and compiled in `kerazoo.distribute.scope(strategy)` and the pipelines
        produce the global batch (recipe batch size x replicas). `multiworker` trains with
        `kerazoo.distribute.fit_multiworker` (every worker runs the same call; its checkpoints in
        `<output>/backup` replace `BackupAndRestore`; only the chief writes files).

    Returns:
      `TrainResult` with the trained model (raw-input form), history, test metrics and paths.

    Example:
      >>> result = kerazoo.train("lenet5", epochs=2, data_dir="~/data")
      >>> result = kerazoo.train("lenet5", strategy="mirrored")      # every local GPU
      >>> result = kerazoo.train("lenet5", recipe="fast")             # the config's `recipes: {fast: ...}`
    """
    from kerazoo import distribute

    import keras

    if lr is not None:
        warnings.warn("train(lr=...) is now called learning_rate (kerazoo's naming table); the old name stops "
                      "working in kerazoo 0.2.", FutureWarning, stacklevel=2)
        learning_rate = learning_rate if learning_rate is not None else lr
    cfg, recipe, kwargs = resolve(name, config=config, model_overrides=model_overrides, recipe=recipe, epochs=epochs,
                                  batch_size=batch_size, learning_rate=learning_rate, dataset=dataset, seed=seed)
    strategy = distribute.as_strategy(strategy)  # first: some strategies need TensorFlow uninitialised
    keras.utils.set_random_seed(recipe.seed)
    with distribute.scope(strategy) if strategy is not None else contextlib.nullcontext():
        model = build(name, kwargs, recipe=recipe, training=True)  # counted first: a size that cannot fit stops here
    out = Path(output or Path("kerazoo_runs") / name)
    if not distribute.is_chief(strategy):  # workers of a multi-worker run share its folder; the chief holds it
        return _train(name, cfg, recipe, kwargs, model, out, strategy, data_dir, callbacks, verbose)
    with claim(out, progress=lambda: _has_progress(out)):  # one process per run; a failed start leaves nothing
        return _train(name, cfg, recipe, kwargs, model, out, strategy, data_dir, callbacks, verbose)


def _has_progress(out: Path) -> bool:
    """A run worth keeping: a backup of a finished epoch, a checkpoint, or logged epochs."""
    history = out / "history.csv"
    return any(p.is_file() for folder in ("backup", "checkpoints") for p in (out / folder).glob("**/*")) or \
        (history.is_file() and len(history.read_text().splitlines()) > 1)


def _train(name, cfg, recipe, kwargs, model, out: Path, strategy, data_dir, callbacks, verbose) -> TrainResult:
    import keras

    from kerazoo import distribute, plots
    from kerazoo.training.backup import AtomicBackupAndRestore
    from kerazoo.training.tasks import prepare

    multiworker, chief = distribute.is_multiworker(strategy), distribute.is_chief(strategy)
    several = distribute.is_multiprocess(strategy)  # TF's multi-worker loop, or JAX's fit in several processes
    out.mkdir(parents=True, exist_ok=True)
    files = distribute.output_dir(out, strategy) if several else out  # a temporary directory off the chief
    backup = out / "backup"
    restore = None if multiworker else AtomicBackupAndRestore(  # JAX, off the chief: restores the chief's backup
        files / "backup", restore_from=backup, delete_checkpoint=False)  # kept until run.json is written
    point = _restore_point(restore, strategy) if restore else None  # a torn backup falls back to the last whole one
    resuming = backup.exists() if multiworker else point is not None
    if point is not None:
        _trim_history(files / "history.csv", point["epoch"])
    finished = point is not None and point["finished"]  # killed after training, before run.json: no epoch left
    started = time.time()

    global_batch = distribute.global_batch_size(recipe.batch_size, strategy)
    data = prepare(cfg, dataclasses.replace(recipe, batch_size=global_batch), kwargs, data_dir, recipe.seed)
    if several and distribute.is_distribution(strategy):  # JAX: every process takes the same number of steps
        from kerazoo.distribute.keras_distribution import even_batches

        data = dataclasses.replace(data, train=even_batches(data.train, global_batch),
                                   val=even_batches(data.val, global_batch))
        strategy.auto_shard_dataset = False  # each process gets its own share already
    replicas = distribute.replicas(strategy)
    family = cfg.hooks
    default_monitor = "val_loss" if data.val is not None else "loss"
    monitor = family.checkpoint_monitor(data) if family.checkpoint_monitor else default_monitor
    # Sync and the family's metric callbacks first: they add to the epoch logs (e.g. val_lenet_fid) that
    # the CSV log, checkpoints and the recipe's callbacks read.
    first, last = fit_assembly.fit_callbacks(family, recipe, data, replicas=replicas)
    own = family.recipe_callbacks(recipe, data, files) if family.recipe_callbacks else []
    cbs = [*first, *own, keras.callbacks.CSVLogger(str(files / "history.csv"), append=resuming),
           keras.callbacks.TensorBoard(str(files / "logs")), *last]
    if not multiworker:  # fit: Keras' own backups and best-model checkpoints
        (files / "checkpoints").mkdir(exist_ok=True)
        cbs.insert(0, restore)
        cbs.append(keras.callbacks.ModelCheckpoint(
            str(files / "checkpoints" / f"{'best' if monitor else 'last'}.keras"), monitor=monitor or "loss",
            save_best_only=bool(monitor), mode=monitor and infer_direction(monitor) or "auto"))
    cbs += callbacks
    plot_paths = []
    if resuming:
        if chief:
            print(f"Resuming the interrupted run in {out}" + (f" after epoch {point['epoch']}" if point else "")
                  + (": its training had finished, its results are written now" if finished else ""))
    else:  # e.g. DBN: greedy RBM pretraining initialises the network fit then tunes
        plot_paths += fit_assembly.run_pretraining(name, family, model, data, recipe, files)
    if multiworker:
        distribute.fit_multiworker(model, data.train, validation_data=data.val, epochs=recipe.epochs,
                                   checkpoint_dir=backup, strategy=strategy, callbacks=cbs, verbose=verbose,
                                   delete_checkpoint=False)  # kept until run.json is written, as with fit
        model = distribute.unwrap(model)  # every worker: saving is collective; evaluate needs a plain model
    else:
        model.fit(data.train, validation_data=data.val, epochs=point["epoch"] if finished else recipe.epochs,
                  callbacks=cbs, verbose=verbose, shuffle=False)  # the pipeline already shuffles, seeded
        restore.finish()  # the weights fit ended with (early stopping may have restored its best), until run.json
        if several:  # JAX, several processes: each evaluates and saves a plain copy (the same weights everywhere)
            model = distribute.unwrap(model)
            keras.distribution.set_distribution(None)  # training is over: the rest runs in each process on its copy

    final = data.wrap(model) if data.wrap else model
    metrics = {}
    if data.test is not None:
        metrics, classes = _held_out_metrics(cfg, model, data)
        if classes is not None and chief:
            plot_paths.append(plots.confusion_matrix_plot(*classes, out / "confusion_matrix.png",
                                                          data.class_names, title=f"{name} on {recipe.dataset} test:"))
    history = plots.read_history(files / "history.csv")
    if chief:
        if family.recipe_plots:  # reconstructions, attention, ...
            plot_paths += family.recipe_plots(final, data, out)
        plot_paths.insert(0, plots.learning_curves(history, out / "learning_curves.png",
                                                   title=f"{name} on {recipe.dataset}"))
        final.save(out / "model.keras")
        run = {"name": name, "dataset": recipe.dataset, "split": data.split, "metrics": metrics, "model": kwargs,
               "recipe": dataclasses.asdict(recipe), "seed": recipe.seed, "epochs_run": len(history.get("epoch", [])),
               "train_seconds": round(time.time() - started, 1), "class_names": data.class_names,
               "strategy": {"kind": distribute.kind_of(strategy), "replicas": replicas,
                            "global_batch_size": global_batch,
                            **({"distribution": type(strategy).__name__} if distribute.is_distribution(strategy)
                               else {})},
               "versions": versions()}
        _write_results(out, run)
        shutil.rmtree(backup, ignore_errors=True)  # the run is complete: a rerun starts afresh
    scores = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()) or "no test split to score on"  # e.g. a text corpus
    print(f"Trained {name}: {scores}; everything is in {out}")
    return TrainResult(final, history, metrics, out, plot_paths)


def _write_results(out: Path, run: dict) -> None:
    """`run.json`, the last file of a run: until it exists the backup is kept, and a rerun resumes."""
    (out / "run.json").write_text(json.dumps(run, indent=2, default=_jsonable))


def _restore_point(restore, strategy):
    """The backup to resume from. In a JAX run of several processes the chief picks (and tidies) it first, then
    the others read the same one; every process must resume from the same epoch."""
    from kerazoo import distribute

    if not distribute.is_distribution(strategy) or not distribute.is_multiprocess(strategy):
        return restore.restore_point()
    from kerazoo.distribute.keras_distribution import all_equal, barrier

    point = restore.restore_point() if not restore.read_only else None
    barrier("kerazoo-restore")
    if restore.read_only:
        point = restore.restore_point()
    epochs = all_equal(point["epoch"] if point else 0)
    if len(set(epochs)) > 1:
        raise RuntimeError(f"the processes would resume from different epochs {epochs}: {restore.folder} must be on "
                           "a filesystem every process reads")
    return point


def _trim_history(path: Path, epochs: int) -> None:
    """Keeps the first `epochs` rows of a CSV log (a run resumed from an earlier backup logs the rest again)."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    header, rows = lines[:1], lines[1:]
    kept = [row for row in rows if row.split(",", 1)[0].strip().isdigit() and int(row.split(",", 1)[0]) < epochs]
    if len(kept) != len(rows):
        path.write_text("".join(header + kept))


def _held_out_metrics(cfg, model, data) -> tuple[dict, tuple | None]:
    """`test_*` metrics: Keras' `evaluate`, the error rate of classifiers, the family's own
    (`recipe_metrics`, e.g. exact match by decoding); and `(true, predicted)` classes of classifiers."""
    metrics = {f"test_{k}": float(v) for k, v in model.evaluate(data.test, return_dict=True, verbose=0).items()}
    classes = None
    if (cfg.task or "").endswith("classification"):
        classes = _predict_classes(model, data.test)
        metrics["test_error"] = float(np.mean(classes[0] != classes[1]))
    family = cfg.hooks
    own = family.recipe_metrics(model, data) if family.recipe_metrics else {}
    metrics.update({f"test_{k}": float(v) for k, v in own.items()})
    return metrics, classes


def _predict_classes(model, dataset):
    """`(true, predicted)` class ids over a `(x, y)` dataset, predicting in compiled batches."""
    probs = np.asarray(model.predict(dataset.map(lambda x, y: x), verbose=0))
    y_pred = probs.argmax(-1) if probs.shape[-1] > 1 else (probs[..., 0] > 0.5).astype(int)
    y_true = np.concatenate([np.asarray(y).reshape(-1) for y in dataset.map(lambda x, y: y).as_numpy_iterator()])
    return y_true.astype(int), y_pred.astype(int)


def evaluate(name: str, *, weights: str, data_dir=None, batch_size: int = 256) -> dict:
    """Test-split metrics of a trained model: a shipped tag (`"mnist"`) or a `.keras` path."""
    from kerazoo.loading import get, trained_with
    from kerazoo.training.tasks import held_out_data

    trained = trained_with(name, weights)  # the weights' own recipe and builder arguments, when recorded
    cfg, recipe, kwargs = resolve(name, config={"recipe": trained.get("recipe", {})},
                                  model_overrides=trained.get("model", {}))
    model = get(name, weights=weights)
    if not model.compiled:
        model.compile(loss=recipe.loss, metrics=list(recipe.metrics))
    data = held_out_data(cfg, recipe, kwargs, data_dir, batch_size=batch_size)
    return _held_out_metrics(cfg, model, data)[0]


def versions() -> dict:
    """The versions a run trained with, its Keras backend included (`keras_backend`, and `jax` on JAX)."""
    import importlib.metadata

    import keras
    import tensorflow as tf

    import kerazoo

    backend = keras.backend.backend()
    extra = {backend: importlib.metadata.version(backend)} if backend in ("jax", "torch") else {}
    return {"kerazoo": kerazoo.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_backend": backend, **extra, "python": platform.python_version(), "numpy": np.__version__}


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
