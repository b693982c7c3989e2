"""`kerazoo.train` and `kerazoo.evaluate`: a model's recipe run with Keras' own machinery.

`fit` with callbacks: `BackupAndRestore` (a killed run resumes at the epoch it reached),
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
import importlib
import json
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerazoo.config import check_dataclass, check_kwargs, load_config, read_overlay
from kerazoo.recipe import Recipe
from kerazoo.training.tasks import family_hook
from kerazoo.tuning import infer_direction

__all__ = ["train", "evaluate", "TrainResult", "resolve"]

_CALLBACKS = {"early_stopping": "EarlyStopping", "reduce_lr_on_plateau": "ReduceLROnPlateau",
              "terminate_on_nan": "TerminateOnNaN", "cosine_decay": "LearningRateScheduler"}


@dataclasses.dataclass
class TrainResult:
    model: Any                 # the trained model in its shipped (raw-input) form
    history: dict              # per-epoch metrics of the whole run (resumes included)
    metrics: dict              # test-split metrics
    output: Path               # run directory
    plots: list = dataclasses.field(default_factory=list)


def resolve(name: str, *, config: str | Path | dict | None = None, model_overrides: dict | None = None,
            **recipe_overrides) -> tuple[Any, Recipe, dict]:
    """`(config, recipe, builder kwargs)` for a run: config < overlay < explicit overrides."""
    from kerazoo.registry import builder

    cfg = load_config(name)
    overlay = read_overlay(config) if isinstance(config, (str, Path)) else (config or {})
    recipe_raw = {**cfg.recipe, **overlay.get("recipe", {}),
                  **{k: v for k, v in recipe_overrides.items() if v is not None}}
    recipe = Recipe(**check_dataclass(Recipe, recipe_raw, f"{name} recipe"))
    fn = builder(name)
    kwargs = check_kwargs(fn, {**cfg.model, **recipe.model, **overlay.get("model", {}), **(model_overrides or {})},
                          f"{name} model arguments")
    return cfg, recipe, kwargs


def _recipe_callbacks(recipe: Recipe):
    import keras

    out = []
    for key, options in recipe.callbacks.items():
        if key not in _CALLBACKS:
            raise ValueError(f"Unknown callback {key!r} in the recipe. Accepted: {', '.join(sorted(_CALLBACKS))}.")
        if key == "cosine_decay":
            out.append(cosine_decay(recipe, **(options or {})))
        else:
            out.append(getattr(keras.callbacks, _CALLBACKS[key])(**(options or {})))
    return out


def cosine_decay(recipe: Recipe, *, min_lr: float = 0.0, epochs: int | None = None):
    """Recipe callback `cosine_decay: {min_lr, epochs}`: the learning rate of epoch e is
    `min_lr + (lr - min_lr) (1 + cos(pi e / epochs)) / 2` (Loshchilov & Hutter 2017, without
    restarts), from the recipe's learning rate over its epochs; a function of the epoch only, so a
    resumed run continues the same curve."""
    import math

    import keras

    total = int(epochs or recipe.epochs)
    if total < 1 or min_lr < 0 or min_lr > recipe.learning_rate:
        raise ValueError(f"cosine_decay: needs epochs >= 1 and 0 <= min_lr <= learning_rate "
                         f"({recipe.learning_rate}). Received: epochs={total}, min_lr={min_lr}")

    def schedule(epoch, lr):
        return min_lr + 0.5 * (recipe.learning_rate - min_lr) * (1 + math.cos(math.pi * min(epoch, total) / total))

    return keras.callbacks.LearningRateScheduler(schedule)


def train(name: str, *, output: str | Path | None = None, epochs: int | None = None, batch_size: int | None = None,
          lr: float | None = None, dataset: str | None = None, seed: int | None = None, data_dir=None,
          config: str | Path | dict | None = None, model_overrides: dict | None = None,
          callbacks: Sequence = (), verbose: str | int = "auto", strategy=None) -> TrainResult:
    """Trains a catalogue model by its config's recipe.

    Args:
      name: registered model name.
      output: run directory (default `kerazoo_runs/<name>`); running again into a directory
        whose run was interrupted resumes it.
      epochs, batch_size, lr, dataset, seed: recipe overrides (`batch_size` is per replica).
      data_dir: where the data set's files are (see `kerazoo.data`).
      config: a config overlay (YAML path or dict with `model:`/`recipe:` blocks), e.g. the
        best hyperparameters of a search.
      model_overrides: builder arguments on top of the recipe's.
      callbacks: extra Keras callbacks.
      verbose: Keras' `fit` verbosity (progress bar by default).
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
    """
    from kerazoo import distribute

    cfg, recipe, kwargs = resolve(name, config=config, model_overrides=model_overrides, epochs=epochs,
                                  batch_size=batch_size, learning_rate=lr, dataset=dataset, seed=seed)
    strategy = distribute.as_strategy(strategy)  # first: some strategies need TensorFlow uninitialised

    import keras

    from kerazoo.recipe import compile_model
    from kerazoo.registry import get
    from kerazoo.training import plots
    from kerazoo.training.tasks import prepare

    multiworker, chief = distribute.is_multiworker(strategy), distribute.is_chief(strategy)
    out = Path(output or Path("kerazoo_runs") / name)
    out.mkdir(parents=True, exist_ok=True)
    files = distribute.output_dir(out, strategy) if multiworker else out  # a temporary directory off the chief
    backup = out / "backup"
    resuming = backup.exists()
    keras.utils.set_random_seed(recipe.seed)
    started = time.time()

    global_batch = distribute.global_batch_size(recipe.batch_size, strategy)
    data = prepare(cfg, dataclasses.replace(recipe, batch_size=global_batch), kwargs, data_dir, recipe.seed)
    with distribute.scope(strategy) if strategy is not None else contextlib.nullcontext():
        model = compile_model(get(name, **kwargs), recipe)
    replicas = model.distribute_strategy.num_replicas_in_sync
    family = importlib.import_module(f"kerazoo.models.{cfg.family}")
    monitor = family_hook(cfg.family, "checkpoint_monitor", "val_loss" if data.val is not None else "loss", data)
    # The family's callbacks add to the epoch logs (e.g. val_lenet_fid), so they come before those reading them.
    cbs = [*family_hook(cfg.family, "recipe_callbacks", [], recipe, data, files),
           keras.callbacks.CSVLogger(str(files / "history.csv"), append=resuming),
           keras.callbacks.TensorBoard(str(files / "logs")), *_recipe_callbacks(recipe)]
    if not multiworker:  # fit: Keras' own backups and best-model checkpoints
        (out / "checkpoints").mkdir(exist_ok=True)
        cbs.insert(0, keras.callbacks.BackupAndRestore(str(backup)))
        cbs.append(keras.callbacks.ModelCheckpoint(
            str(out / "checkpoints" / f"{'best' if monitor else 'last'}.keras"), monitor=monitor or "loss",
            save_best_only=bool(monitor), mode=monitor and infer_direction(monitor) or "auto"))
        if replicas > 1:  # first, so checkpoints and validation see the averaged moving statistics
            cbs.insert(0, distribute.SyncMovingStatistics())
    cbs += callbacks
    plot_paths = []
    if resuming:
        if chief:
            print(f"Resuming the interrupted run in {out}")
    elif recipe.pretrain:  # e.g. DBN: greedy RBM pretraining initialises the network fit then tunes
        if not hasattr(family, "recipe_pretrain"):
            raise ValueError(f"{name}: the recipe has a `pretrain` block, but kerazoo.models.{cfg.family} "
                             "has no pretraining stage (recipe_pretrain).")
        plot_paths += family.recipe_pretrain(model, data, dict(recipe.pretrain), files)
    if multiworker:
        distribute.fit_multiworker(model, data.train, validation_data=data.val, epochs=recipe.epochs,
                                   checkpoint_dir=backup, strategy=strategy, callbacks=cbs, verbose=verbose)
        model = distribute.unwrap(model)  # every worker: saving is collective; evaluate needs a plain model
    else:
        model.fit(data.train, validation_data=data.val, epochs=recipe.epochs, callbacks=cbs, verbose=verbose,
                  shuffle=False)  # the pipeline already shuffles, seeded

    final = data.wrap(model) if data.wrap else model
    metrics = {}
    if data.test is not None:
        metrics, classes = _held_out_metrics(cfg, model, data)
        if classes is not None and chief:
            plot_paths.append(plots.confusion_matrix_plot(*classes, out / "confusion_matrix.png",
                                                          data.class_names, title=f"{name} on {recipe.dataset} test:"))
    history = plots.read_history(files / "history.csv")
    if chief:
        plot_paths += family_hook(cfg.family, "recipe_plots", [], final, data, out)  # reconstructions, attention, ...
        plot_paths.insert(0, plots.learning_curves(history, out / "learning_curves.png",
                                                   title=f"{name} on {recipe.dataset}"))
        final.save(out / "model.keras")
        run = {"name": name, "dataset": recipe.dataset, "split": data.split, "metrics": metrics, "model": kwargs,
               "recipe": dataclasses.asdict(recipe), "seed": recipe.seed, "epochs_run": len(history.get("loss", [])),
               "train_seconds": round(time.time() - started, 1), "class_names": data.class_names,
               "strategy": {"kind": distribute.kind_of(strategy), "replicas": replicas,
                            "global_batch_size": global_batch},
               "versions": versions()}
        (out / "run.json").write_text(json.dumps(run, indent=2, default=_jsonable))
    print(f"Trained {name}: {', '.join(f'{k}={v:.4f}' for k, v in metrics.items())}; everything is in {out}")
    return TrainResult(final, history, metrics, out, plot_paths)


def _held_out_metrics(cfg, model, data) -> tuple[dict, tuple | None]:
    """`test_*` metrics: Keras' `evaluate`, the error rate of classifiers, the family's own
    (`recipe_metrics`, e.g. exact match by decoding); and `(true, predicted)` classes of classifiers."""
    metrics = {f"test_{k}": float(v) for k, v in model.evaluate(data.test, return_dict=True, verbose=0).items()}
    classes = None
    if cfg.task.endswith("classification"):
        classes = _predict_classes(model, data.test)
        metrics["test_error"] = float(np.mean(classes[0] != classes[1]))
    own = family_hook(cfg.family, "recipe_metrics", {}, model, data)
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
    from kerazoo.registry import get
    from kerazoo.training.tasks import held_out_data

    trained = _trained_with(name, weights)  # the weights' own recipe and builder arguments, when recorded
    cfg, recipe, kwargs = resolve(name, config={"recipe": trained.get("recipe", {})},
                                  model_overrides=trained.get("model", {}))
    model = get(name, weights=weights)
    if not model.compiled:
        model.compile(loss=recipe.loss, metrics=list(recipe.metrics))
    data = held_out_data(cfg, recipe, kwargs, data_dir, batch_size=batch_size)
    return _held_out_metrics(cfg, model, data)[0]


def _trained_with(name: str, weights: str) -> dict:
    """`{"model", "recipe"}` shipped weights (their card) or a run's `.keras` (its run.json) were trained with."""
    from kerazoo.weights import available

    if weights in available(name):
        record = available(name)[weights]
    else:
        run = Path(weights).expanduser().parent / "run.json"
        record = json.loads(run.read_text()) if run.is_file() else {}
    return {k: record[k] for k in ("model", "recipe") if k in record}


def versions() -> dict:
    import keras
    import tensorflow as tf

    import kerazoo

    return {"kerazoo": kerazoo.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version(), "numpy": np.__version__}


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
