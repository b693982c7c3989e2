"""The outside recipes `time_to_accuracy.py` times kerazoo's against: written here after each one's
published recipe (their code is not copied; the settings are theirs, the source cited in each function).
One function per family; each docstring names its source and what was changed to run it here.

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


def dcgan_keras_io(tracker, data_dir, seed: int, epochs: int = 20, every: float = 0.5):
    """keras-io guide "Customizing what happens in fit()" (fchollet, guides/custom_train_step_in_tensorflow.py), its
    end-to-end GAN on MNIST: discriminator Conv 64 and 128 (3x3, stride 2, LeakyReLU 0.2), global max-pool, one
    logit; generator Dense 7x7x128, two Conv2DTranspose 128 (4x4, stride 2, LeakyReLU 0.2), Conv 1 7x7 sigmoid,
    latent 128; Adam 3e-4 for each network, batch 64, the discriminator's labels with 0.05 uniform noise; "about
    20 epochs to get nice results" (the guide itself trains 100 batches). It trains on the training and test
    digits; here on the 60,000 training digits only (the test digits are what the FID is measured against).
    `tracker.model` is the generator (latent 128 -> images in [0, 1])."""
    import keras
    import tensorflow as tf
    from keras import layers

    keras.utils.set_random_seed(seed)
    (x, _), _ = _mnist(data_dir)
    images = np.expand_dims(x.astype("float32") / 255, -1)
    data = tf.data.Dataset.from_tensor_slices(images).shuffle(1024, seed=seed).batch(64).prefetch(32)
    latent = 128
    discriminator = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(64, 3, strides=2, padding="same"),
                                      layers.LeakyReLU(0.2), layers.Conv2D(128, 3, strides=2, padding="same"),
                                      layers.LeakyReLU(0.2), layers.GlobalMaxPooling2D(), layers.Dense(1)])
    generator = keras.Sequential([keras.Input((latent,)), layers.Dense(7 * 7 * 128), layers.LeakyReLU(0.2),
                                  layers.Reshape((7, 7, 128)),
                                  layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
                                  layers.Conv2DTranspose(128, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
                                  layers.Conv2D(1, 7, padding="same", activation="sigmoid")])

    class GAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.discriminator, self.generator = discriminator, generator
            self.d_optimizer, self.g_optimizer = keras.optimizers.Adam(3e-4), keras.optimizers.Adam(3e-4)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def train_step(self, real):
            n = tf.shape(real)[0]
            fake = self.generator(tf.random.normal((n, latent)))
            both = tf.concat([fake, real], 0)
            labels = tf.concat([tf.ones((n, 1)), tf.zeros((n, 1))], 0)  # the guide's: 1 for generated, 0 for real
            labels += 0.05 * tf.random.uniform(tf.shape(labels))
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(both))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with tf.GradientTape() as tape:
                judged = self.discriminator(self.generator(tf.random.normal((n, latent))))
                g_loss = self.loss_fn(tf.zeros((n, 1)), judged)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return {"d_loss": d_loss, "g_loss": g_loss}

    gan = GAN()
    gan.compile()
    tracker.model = generator
    tracker.extra["latent_dim"] = latent
    gan.fit(data, epochs=epochs, verbose=0, callbacks=[tracker.keras_callback(every)])


def seq2seq_keras_io(tracker, pairs, seed: int, epochs: int = 10, every: float = 0.25):
    """keras-io "Character-level recurrent sequence-to-sequence model" (fchollet, examples/nlp/lstm_seq2seq.py):
    one-hot characters, an LSTM(256) encoder whose final states start an LSTM(256) decoder trained by teacher
    forcing, softmax over the target characters; RMSprop, categorical cross-entropy, batch 64, 100 epochs (run up
    to `epochs` here); targets wrapped in "\\t" ... "\\n", sequences padded with spaces; greedy decoding.
    Trained on the same generated date pairs as kerazoo's recipe. The one-hot inputs are made inside the model
    (`keras.ops.one_hot`), the same numbers as the example's one-hot arrays without their memory; the targets are
    integer ids with the sparse form of the same loss."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    sources = [p.source for p in pairs]
    targets = ["\t" + p.target + "\n" for p in pairs]
    source_chars = sorted(set("".join(sources)) | {" "})
    target_chars = sorted(set("".join(targets)) | {" "})
    s_index, t_index = {c: i for i, c in enumerate(source_chars)}, {c: i for i, c in enumerate(target_chars)}
    s_len, t_len = max(map(len, sources)), max(map(len, targets))

    def encode(texts, index, length):  # padded with spaces to `length`, or to the longest text if longer
        out = np.full((len(texts), max(length, *map(len, texts))), index[" "], dtype="int32")
        for i, text in enumerate(texts):
            out[i, :len(text)] = [index.get(c, index[" "]) for c in text]
        return out

    enc_in, dec = encode(sources, s_index, s_len), encode(targets, t_index, t_len + 1)
    dec_in, dec_out = dec[:, :-1], dec[:, 1:]
    encoder_inputs = keras.Input((None,), dtype="int32")
    encoder = layers.LSTM(256, return_state=True)
    _, h, c = encoder(layers.Lambda(lambda ids: keras.ops.one_hot(ids, len(source_chars)))(encoder_inputs))
    decoder_inputs = keras.Input((None,), dtype="int32")
    decoder_lstm = layers.LSTM(256, return_sequences=True, return_state=True)
    decoder_dense = layers.Dense(len(target_chars), activation="softmax")
    one_hot = layers.Lambda(lambda ids: keras.ops.one_hot(ids, len(target_chars)))  # (batch, time) -> (.., chars)
    decoded, _, _ = decoder_lstm(one_hot(decoder_inputs), initial_state=[h, c])
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoded))
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    state_h, state_c = keras.Input((256,)), keras.Input((256,))
    step_in = keras.Input((None,), dtype="int32")
    step_out, step_h, step_c = decoder_lstm(one_hot(step_in), initial_state=[state_h, state_c])
    step = keras.Model([step_in, state_h, state_c], [decoder_dense(step_out), step_h, step_c])
    encode_states = keras.Model(encoder_inputs, [h, c])

    def translate(texts):
        """Greedy decoding as the example's `decode_sequence`, a batch at a time: until "\\n" or the length."""
        states = encode_states.predict(encode(texts, s_index, s_len), batch_size=512, verbose=0)
        token = np.full((len(texts), 1), t_index["\t"], dtype="int32")
        out, done = [[] for _ in texts], np.zeros(len(texts), bool)
        for _ in range(t_len):
            probs, *states = step.predict([token, *states], batch_size=512, verbose=0)
            token = probs[:, -1].argmax(-1)[:, None].astype("int32")
            for i, t in enumerate(token[:, 0]):
                done[i] |= target_chars[t] == "\n"
                if not done[i]:
                    out[i].append(target_chars[t])
            if done.all():
                break
        return ["".join(o) for o in out]

    tracker.model = model
    tracker.extra["translate"] = translate
    model.fit([enc_in, dec_in], dec_out, batch_size=64, epochs=epochs, verbose=0,
              callbacks=[tracker.keras_callback(every)])


def word2vec_gensim(tracker, documents, seed: int, epochs: int = 5):
    """gensim 4's `Word2Vec` with kerazoo's recipe settings (skip-gram, dimension 64, window 4, 4 negatives,
    subsampling 1e-3, min_count 5, 12,000 words kept (`max_final_vocab`)), gensim's default 5 epochs and
    learning-rate decay, 2 worker threads, on kerazoo's tokenisation of the same reviews (counted), evaluated after
    every epoch (gensim's `on_epoch_end`). `tracker.model` is the gensim model."""
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    from kerazoo.data.word2vec import tokenize

    tokens = [[w.decode() for w in row] for batch in tokenize(documents) for row in batch.to_list()]

    class Epochs(CallbackAny2Vec):
        def __init__(self):
            self.epoch = 0

        def on_epoch_end(self, model):
            self.epoch += 1
            tracker.check(self.epoch)

    model = Word2Vec(vector_size=64, window=4, negative=4, sample=1e-3, sg=1, hs=0, min_count=5,
                     max_final_vocab=12000, workers=2, seed=seed)
    tracker.model = model
    model.build_vocab(tokens)
    model.train(tokens, total_examples=len(tokens), epochs=epochs, callbacks=[Epochs()])
    tracker.finish()
