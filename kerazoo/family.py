"""The family contract: what a model family provides, declared once.

A built-in family is a package, `kerazoo/models/<family>/`, of files named for their role, the same in
every family:

- `model.py`: the architecture: builders decorated with `@kerazoo.registry.register_model` (the
  function's name is the model's name; keyword-only, annotated arguments, see the README's naming
  table), the family's custom layers and models with their `get_config`, in `keras` and `keras.ops`
  only, so it runs on every Keras backend. No TensorFlow, data, metrics, plots or export.
- `training.py` (optional): what trains, scores and plots it: the hooks below, declared once at its
  bottom, `HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_plots=recipe_plots)`.
- `tf_export.py` (optional): TensorFlow-only serving: the SavedModel's endpoint, the core LiteRT and
  ONNX files hold, the data they are measured on (the hooks `training.py` declares from it).

A family kept outside kerazoo may be one module (`family: mypackage.tiny_mlp` in its config) holding
its builders and, optionally, its `HOOKS`; a builder registered from any module works the same way.

Every hook is optional; `hooks(family)` gives the declared ones (undeclared fields are None) and is
the only way callers look them up. `FamilyHooks` lists every hook there is, with its signature;
`tests/test_layout.py` fails on a family function named like a hook but not declared.

Hooks never load an artifact themselves (a model never loads another one): what a recipe uses from
another artifact (the LeNet-5 that scores a GAN's digits, word vectors an embedding starts from) is
named by `uses(recipe)`, loaded by the training code above, and handed in as `TaskData.artifacts`.

Importing this module imports neither TensorFlow nor any family.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
from pathlib import Path
from typing import Any, Callable, Optional

__all__ = ["TaskData", "ExportCore", "ExportData", "FamilyHooks", "HOOK_NAMES", "hooks", "hooks_module",
           "family_module"]


@dataclasses.dataclass
class TaskData:
    """What a recipe trains on: pipelines for fit/evaluate and how the trained network ships."""

    train: Any                              # tf.data.Dataset of (x, y) batches (or x alone)
    val: Any = None
    test: Any = None
    wrap: Optional[Callable] = None         # trained network -> raw-input model (None: as is)
    class_names: Optional[list] = None      # classifiers: label names for plots and cards
    split: str = "test"                     # name of the held-out split `test` comes from
    extra: dict = dataclasses.field(default_factory=dict)  # family-specific (vectorizer, pairs, ...)
    artifacts: dict = dataclasses.field(default_factory=dict)  # role -> loaded model, as `uses` named them


@dataclasses.dataclass
class ExportCore:
    """What an artifact's LiteRT and ONNX files hold: a function of numeric tensors (no strings, no Python).

    Text models export their network on token ids; `tokenizer` (a `kerazoo.text.Tokenizer` spec) turns
    raw strings into those ids without TensorFlow and ships beside the files.
    """

    fn: Any                                 # tf.function with one input spec: a tensor in, {name: tensor} out
    input: str                              # what it takes, for the card
    quantizable: Any = None                 # the same on float32 input, for int8 files (None: `fn`)
    track: list = dataclasses.field(default_factory=list)  # what `fn` uses (Keras models, layers), to export it
    tokenizer: Any = None                   # text models: a kerazoo.text.Tokenizer (raw strings -> `fn`'s ids)
    masked_padding: bool = False            # trailing padding ids (0) change no output: runners may trim them
    unsupported: dict = dataclasses.field(default_factory=dict)  # format -> why it cannot hold the model


@dataclasses.dataclass
class ExportData:
    """Real data every exported format is measured on, as raw inputs (what the SavedModel takes)."""

    calibration: Any                        # training inputs int8 files are calibrated on (never held-out data)
    inputs: Any                             # held-out inputs
    score: Callable[[Any], dict]            # a format's outputs on `inputs` -> {"test_<metric>": value}
    description: str                        # what `inputs` are ("10,000 MNIST test digits")


Callbacks = list   # of keras.callbacks.Callback
Paths = list       # of pathlib.Path (PNG files written)


@dataclasses.dataclass(frozen=True)
class FamilyHooks:
    """Every hook a family may declare. Each is called with exactly the arguments shown."""

    # recipe_data(recipe, model_kwargs, data_dir, seed) -> TaskData
    #   The data of a task kerazoo.training.tasks does not know (image and text classification it does).
    recipe_data: Optional[Callable[[Any, dict, Any, int], TaskData]] = None
    # recipe_pretrain(model, data, options, out) -> [png]
    #   A stage before `fit`, configured by the recipe's `pretrain:` block (DBN's RBMs, word2vec embeddings).
    recipe_pretrain: Optional[Callable[[Any, TaskData, dict, Path], Paths]] = None
    # recipe_callbacks(recipe, data, out) -> [Callback]
    #   Extra callbacks of `kerazoo train` only (sample grids written to `out`).
    recipe_callbacks: Optional[Callable[[Any, TaskData, Path], Callbacks]] = None
    # metric_callbacks(data) -> [Callback]
    #   Callbacks that add `val_*` entries to the epoch logs (exact match by decoding, LeNet-FID, a probe's
    #   accuracy): they run first in `kerazoo train` and in every search trial, so checkpoints, learning
    #   curves and search objectives can name them. Scored on validation (else training) data, never test.
    metric_callbacks: Optional[Callable[[TaskData], Callbacks]] = None
    # checkpoint_monitor(data) -> str | None
    #   The logged value `checkpoints/best.keras` is chosen by, for models without `val_loss` (DCGAN:
    #   `val_lenet_fid`); None keeps the last epoch.
    checkpoint_monitor: Optional[Callable[[TaskData], Optional[str]]] = None
    # recipe_metrics(model, data) -> {name: float}
    #   Held-out metrics `evaluate` does not compute, reported as `test_<name>` in the card.
    recipe_metrics: Optional[Callable[[Any, TaskData], dict]] = None
    # recipe_plots(model, data, out) -> [png]
    #   Plots of the trained model (reconstructions, attention maps, neighbours).
    recipe_plots: Optional[Callable[[Any, TaskData, Path], Paths]] = None
    # serving_endpoint(model) -> {"fn": tf.function with input_signature, "input": str, "track": [...]}
    #   What the SavedModel's `serving_default` runs instead of the forward pass (strings in, strings out).
    serving_endpoint: Optional[Callable[[Any], dict]] = None
    # targets_of_inputs(x, model_kwargs) -> y
    #   Targets of inputs given alone to a search (an autoencoder's rescaled images).
    targets_of_inputs: Optional[Callable[[Any, dict], Any]] = None
    # export_core(model) -> ExportCore
    #   What LiteRT and ONNX files of the trained (shipped-form) model hold, when the default does not fit:
    #   the forward pass on the SavedModel's input, or a text model's network on token ids with its tokenizer.
    export_core: Optional[Callable[[Any], ExportCore]] = None
    # export_data(model, card, data_dir, artifacts) -> ExportData
    #   The training inputs int8 files are calibrated on and the held-out inputs and score every format is
    #   measured with, for tasks kerazoo.formats does not know (image and text classification it does).
    #   Raises kerazoo.errors.DataNotFoundError when the data is not there.
    export_data: Optional[Callable[[Any, dict, Any, dict], ExportData]] = None
    # uses(recipe) -> {role: artifact name}
    #   Artifacts the family's hooks use with this recipe (DCGAN on MNIST: {"scorer": "lenet5.mnist"}; an IMDB
    #   classifier whose embedding starts from word vectors: {"embeddings": "word2vec.imdb"}). The training and
    #   export code loads them and hands them in as `TaskData.artifacts` / `export_data`'s `artifacts`; a role
    #   whose artifact is missing is left out, and the hook does without it.
    uses: Optional[Callable[[Any], dict]] = None
    # example_batch(model, n, seed) -> (x, y)
    #   A batch the model trains on, for the registry-wide tests (default: made from `model.inputs`).
    example_batch: Optional[Callable[[Any, int, int], tuple]] = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and not callable(value):
                raise TypeError(f"FamilyHooks.{field.name} must be a function, received {value!r}")


HOOK_NAMES = tuple(f.name for f in dataclasses.fields(FamilyHooks))
_NONE = FamilyHooks()


def family_module(family: str):
    """The module of a family: the package `kerazoo.models.<family>`, or `family` itself when it is a dotted path."""
    return importlib.import_module(family if "." in family else f"kerazoo.models.{family}")


def hooks_module(family: str):
    """Where a family declares its hooks: a package's `training` module, else the family module itself."""
    module = family_module(family)
    if not hasattr(module, "__path__"):
        return module
    try:
        return importlib.import_module(f"{module.__name__}.training")
    except ModuleNotFoundError as e:
        if e.name != f"{module.__name__}.training":
            raise
        return module


@functools.cache
def hooks(family: str) -> FamilyHooks:
    """The hooks a family declares (`HOOKS` of its `training` module), every other field None.

    Example:
      >>> hooks("dcgan").checkpoint_monitor
      <function checkpoint_monitor at ...>
    """
    declared = getattr(hooks_module(family), "HOOKS", _NONE)
    if not isinstance(declared, FamilyHooks):
        raise TypeError(f"{family}: HOOKS must be a kerazoo.family.FamilyHooks, received {type(declared).__name__}")
    return declared
