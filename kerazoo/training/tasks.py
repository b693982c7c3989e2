"""What a recipe trains on, per task: the pipelines and the raw-input model that ships.

Classifiers get kerazoo.data pipelines; text classifiers also get a `TextVectorization` adapted
on the training texts, whose token ids (computed once, eagerly: `kerazoo.text.vectorize`) the
pipelines batch while training, and which is put in front of the trained network afterwards, so
the shipped model takes raw review strings. Other tasks get
their data from their family's `recipe_data` hook (see `kerazoo.family`).
"""
from __future__ import annotations

from kerazoo.family import TaskData, hooks
from kerazoo.inputs import check_images
from kerazoo.loading import used_artifacts
from kerazoo.models.common import string_model
from kerazoo.text import make_vectorizer, vectorize

__all__ = ["TaskData", "prepare", "held_out_data", "raw_splits", "bucket_by_length"]


_CLASS_NAMES = {"mnist": [str(i) for i in range(10)], "digits": [str(i) for i in range(10)],
                "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                  "Sneaker", "Bag", "Ankle boot"],
                "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"],
                "imdb": ["negative", "positive"]}


def _images(recipe, model_kwargs, data_dir, seed) -> TaskData:
    from kerazoo import data
    from kerazoo.data.augment import augment_dataset
    from kerazoo.data.sources import to_dataset

    arrays = data.load(recipe.dataset, data_dir=data_dir, validation_split=recipe.validation_split, seed=seed,
                       as_numpy=True, **recipe.data)
    check_images(*arrays["train"], rescaling=model_kwargs.get("rescaling"), where=f"{recipe.dataset} (train split)",
                 classes=model_kwargs.get("classes") if model_kwargs.get("include_top", True) else None)
    splits = {split: None if xy is None else to_dataset(xy, batch_size=recipe.batch_size, shuffle=split == "train",
                                                        seed=seed) for split, xy in arrays.items()}
    train = augment_dataset(splits["train"], recipe.augment, seed=seed)  # training only; as is without `augment`
    return TaskData(train, splits["val"], splits["test"], class_names=_CLASS_NAMES.get(recipe.dataset),
                    extra={"unaugmented_train": splits["train"]})


_PIPELINE_OPTIONS = ("sequence_length", "bucket_boundaries")  # recipe `data:` keys of the text pipeline, not the loader


def bucket_by_length(ds, boundaries, batch_size: int):
    """`(ids, label)` examples padded to a fixed length -> batches of reviews of similar length, each
    padded only to its longest review.

    With masked recurrent layers a review's output does not depend on its padding, so this changes
    which reviews share a batch, not what the model computes for each; the recurrent layers run
    over ~the real lengths instead of the fixed one (1.99x the same-batch training throughput of the
    IMDB LSTM recipe on 500-token inputs averaging 218 tokens: benchmarks/speed.py). Its 4-epoch
    accuracies there (0.769 against 0.854 unbucketed, medians of 3 seeds) do not rank the pipelines:
    the same pipeline and seed moved by 8-9 points between runs, past the best epoch
    (benchmarks/bucket_accuracy.py).

    The batches' number is counted (one pass over the lengths) and asserted, so that Keras' progress
    bar has the right total and fit does not "run out of data" at the end of the first epoch.
    """
    import numpy as np
    import tensorflow as tf

    def length(ids):
        return tf.maximum(tf.cast(tf.math.count_nonzero(ids, axis=-1), tf.int32), 1)

    lengths = np.concatenate([n for n in ds.map(lambda ids, y: length(ids)).batch(4096).as_numpy_iterator()] or [[]])
    per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
    batches = int(np.sum(-(-per_bucket // batch_size)))  # every bucket's last batch may be partial
    trimmed = ds.map(lambda ids, y: (ids[:length(ids)], y))
    bucketed = trimmed.bucket_by_sequence_length(lambda ids, y: tf.shape(ids)[0], list(boundaries),
                                                 [batch_size] * (len(boundaries) + 1))
    return bucketed.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def _texts(recipe, model_kwargs, data_dir, seed) -> TaskData:
    import tensorflow as tf

    from kerazoo import data

    options = dict(recipe.data)
    sequence_length = options.pop("sequence_length", 200)
    buckets = options.pop("bucket_boundaries", None)  # training batches of similar lengths, padding trimmed
    arrays = data.load(recipe.dataset, data_dir=data_dir, validation_split=recipe.validation_split, seed=seed,
                       as_numpy=True, **options)
    vectorizer = make_vectorizer(arrays["train"][0].astype(str), vocab_size=model_kwargs.get("vocab_size", 20000),
                                 sequence_length=sequence_length)

    def pipeline(xy, shuffle):
        if xy is None:
            return None
        ds = tf.data.Dataset.from_tensor_slices((vectorize(vectorizer, xy[0]), xy[1].astype("float32")))
        if shuffle:
            ds = ds.shuffle(len(xy[1]), seed=seed, reshuffle_each_iteration=True)
        if shuffle and buckets:
            return bucket_by_length(ds, buckets, recipe.batch_size)
        return ds.batch(recipe.batch_size).prefetch(tf.data.AUTOTUNE)

    return TaskData(pipeline(arrays["train"], True), pipeline(arrays["val"], False), pipeline(arrays["test"], False),
                    wrap=lambda network: string_model(vectorizer, network, network.name),
                    class_names=_CLASS_NAMES.get(recipe.dataset), extra={"vectorizer": vectorizer})


TASKS = {"image-classification": _images, "text-classification": _texts}


def prepare(config, recipe, model_kwargs: dict, data_dir, seed: int) -> TaskData:
    """The `TaskData` a model's recipe trains on, with the artifacts its family's hooks use (`FamilyHooks.uses`)."""
    family = hooks(config.family)
    if config.task in TASKS:
        data = TASKS[config.task](recipe, model_kwargs, data_dir, seed)
    else:
        recipe_data = family.recipe_data
        if recipe_data is None:
            raise NotImplementedError(f"{config.name}: no training recipe for task {config.task!r} yet (its family "
                                      f"{config.family!r} declares no FamilyHooks.recipe_data).")
        data = recipe_data(recipe, model_kwargs, data_dir, seed)
    data.artifacts = {**used_artifacts(family, recipe), **data.artifacts}
    return data


def raw_splits(config, recipe, data_dir) -> tuple:
    """`(x_train, y_train), (x_test, y_test)` of an image or text classification recipe in the shipped
    models' raw input form (uint8 pixels; review strings with float32 labels). `recipe`: a `Recipe` or
    a card's recipe dict."""
    from kerazoo import data

    dataset, options = (recipe["dataset"], recipe.get("data") or {}) if isinstance(recipe, dict) else \
        (recipe.dataset, recipe.data)
    options = {k: v for k, v in options.items() if k not in _PIPELINE_OPTIONS}
    (x, y), (x_test, y_test) = data.load_numpy(dataset, data_dir=data_dir, **options)
    if config.task == "text-classification":
        return (x.astype(str), y.astype("float32")), (x_test.astype(str), y_test.astype("float32"))
    return (x, y), (x_test, y_test)


def held_out_data(config, recipe, model_kwargs: dict, data_dir, *, batch_size: int = 256) -> TaskData:
    """`TaskData` whose `test` is the held-out split in the shipped models' raw input form (uint8
    pixels, strings); families with their own data give their `recipe_data`."""
    from kerazoo.data.sources import to_dataset

    if config.task not in TASKS:
        return prepare(config, recipe, model_kwargs, data_dir, recipe.seed)
    _, (x, y) = raw_splits(config, recipe, data_dir)
    return TaskData(None, test=to_dataset((x, y), batch_size=batch_size, cache=False),
                    class_names=_CLASS_NAMES.get(recipe.dataset))
