"""The outside recipes `time_to_accuracy.py` times kerazoo's against: written here after each one's
published recipe (their code is not copied; the settings are theirs, the source cited in each function).
LeNet-5's, the DBN's and the IMDB classifiers' are measured so far; the drafts for the other families
(keras-io's DCGAN and seq2seq examples, gensim) are in commit 911635e, unmeasured.

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


def dbn_sklearn(tracker, data_dir, seed: int, epochs: int = 20, components: int = 500, every: float = 1.0):
    """scikit-learn's "Restricted Boltzmann Machine features for digit classification" (Dauphin, Niculae,
    Synnaeve): `BernoulliRBM(learning_rate=0.06, n_iter=20, n_components=100)` on pixels scaled to [0, 1], then
    `LogisticRegression(C=6000)`. Sized for MNIST's 784 pixels here: 500 components (the DBN's first layer;
    the example's 100 are for 8x8 digits, and it says more components predict better). The RBM is trained
    epoch by epoch (`partial_fit` on each minibatch of 10, the sklearn default, in `fit`'s order); at each
    interval the logistic regression is fitted on the features, and that fit counts (what stopping there costs),
    the earlier fits do not."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM

    (x, y), _ = _mnist(data_dir)
    x = x.reshape(len(x), -1).astype("float32") / 255
    rbm = BernoulliRBM(n_components=components, learning_rate=0.06, batch_size=10, random_state=seed)
    slices = [slice(i, i + 10) for i in range(0, len(x), 10)]
    tracker.model = None
    for epoch in range(1, epochs + 1):
        for i, part in enumerate(slices):
            rbm.partial_fit(x[part])
            if i % 500 == 499 and tracker.over_budget():
                epoch -= 1 - (i + 1) / len(slices)  # a partial epoch, evaluated as such
                break
        started = tracker.clock.seconds()
        classifier = LogisticRegression(C=6000.0, max_iter=1000).fit(rbm.transform(x), y)
        tracker.model = (rbm, classifier)
        tracker.check(epoch, not_counted=tracker.clock.seconds() - started)
    tracker.finish()


def _imdb_ids(texts, vocabulary: int, length: int):
    """keras.datasets.imdb's form from raw reviews: the top `vocabulary` words, then `pad_sequences(maxlen=length)`
    (its defaults, as the example uses it: the last `length` words, padded at the front)."""
    import keras

    vectorize = keras.layers.TextVectorization(max_tokens=vocabulary)
    vectorize.adapt(list(texts), batch_size=1024)
    return imdb_ids(vectorize, texts, length), vectorize


def imdb_ids(vectorize, texts, length: int = 200):
    """Reviews -> ids of `vectorize`, the last `length` words padded at the front (`pad_sequences`' defaults)."""
    import keras

    ids = [np.asarray(vectorize(list(texts[i:i + 1024]))) for i in range(0, len(texts), 1024)]
    return keras.utils.pad_sequences([row[row != 0] for part in ids for row in part], maxlen=length)


def imdb_keras_io(tracker, data_dir, seed: int, cell: str = "lstm", epochs: int = 2, every: float = 0.5):
    """keras-io "Bidirectional LSTM on IMDB" (fchollet, examples/nlp/bidirectional_lstm_imdb.py): the top 20,000
    words, reviews cut to their last 200 by `pad_sequences(maxlen=200)`, Embedding 128, two bidirectional
    LSTM(64), sigmoid; Adam, binary cross-entropy, batch 32, 2 epochs (its `validation_data` left out). The
    example reads keras.datasets' preprocessed ids; here the same raw reviews kerazoo reads are tokenised by
    `TextVectorization` (counted, as kerazoo's vectorising is). `cell="gru"`: the same with GRU cells (keras-io
    has no GRU example on IMDB)."""
    import keras
    from keras import layers

    from kerazoo.data.imdb import load_imdb

    keras.utils.set_random_seed(seed)
    texts, y = load_imdb(data_dir=data_dir)["train"]
    x, tracker.extra["vectorize"] = _imdb_ids(texts.astype(str), 20000, 200)
    rnn = {"lstm": layers.LSTM, "gru": layers.GRU}[cell]
    inputs = keras.Input((None,), dtype="int32")
    h = layers.Embedding(20000, 128)(inputs)
    h = layers.Bidirectional(rnn(64, return_sequences=True))(h)
    h = layers.Bidirectional(rnn(64))(h)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    tracker.model = model
    model.fit(x, y.astype("float32"), batch_size=32, epochs=epochs, verbose=0,
              callbacks=[tracker.keras_callback(every)])
