"""The outside recipes `time_to_accuracy.py` times kerazoo's against: written here after each one's
published recipe (their code is not copied; the settings are theirs, the source cited in each function).
Only LeNet-5's is measured so far; the drafts for the other families (scikit-learn's RBM for the DBN,
keras-io's IMDB, DCGAN and seq2seq examples, gensim) are in commit 911635e, unmeasured.

Every reference trains on the same files kerazoo reads and is scored by the same evaluator, at the
same intervals. Where a published recipe has a validation pass (Keras' `validation_split` /
`validation_data`), it is left out and the reference trains on the whole training split: both can
only make it faster to the target. Each `train_*` function gets a `Tracker` (time_to_accuracy.py):
the clock is already running, `tracker.keras_callback(every)` evaluates a Keras fit at fixed intervals,
and `tracker.check(progress)` evaluates a hand-written loop; either raises `Stop` at the target or at
the end of the budget.
"""
from __future__ import annotations

import numpy as np


def _mnist(data_dir):
    with np.load(f"{data_dir}/mnist/mnist.npz") as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def lenet_keras_io(tracker, data_dir, seed: int, epochs: int = 15, every: float = 0.5):
    """keras-io "Simple MNIST convnet" (fchollet, examples/vision/mnist_convnet.py): Conv 32 3x3 ReLU, max-pool,
    Conv 64 3x3 ReLU, max-pool, dropout 0.5, softmax; Adam (Keras defaults), categorical cross-entropy, batch 128,
    15 epochs, inputs scaled to [0, 1]. Returns the model (its input: float images in [0, 1])."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    (x, y), _ = _mnist(data_dir)
    x = np.expand_dims(x.astype("float32") / 255, -1)
    y = keras.utils.to_categorical(y, 10)
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                              layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    tracker.model = model
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=[tracker.keras_callback(every)])
