"""IMDB classifiers' recipe specifics: length-bucketed training batches, word2vec-initialised embeddings."""
import json

import numpy as np
import pytest

import kerazoo

WORDS = {1: ["great", "wonderful", "loved", "superb"], 0: ["awful", "boring", "hated", "dull"]}
FILLER = ["the", "film", "was", "and", "plot", "actors", "a", "movie"]


def write_aclimdb(root, n_train=40, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for label, folder in ((1, "pos"), (0, "neg")):
            path = root / "aclImdb" / split / folder
            path.mkdir(parents=True)
            for i in range(n):
                words = list(rng.choice(FILLER, rng.integers(2, 12))) + [str(rng.choice(WORDS[label]))]
                (path / f"{i}_{9 if label else 1}.txt").write_text(" ".join(words))


def test_bucketed_batches_trim_padding_and_change_no_review_output():
    import tensorflow as tf

    from kerazoo.training.tasks import bucket_by_length

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, 64)
    ids = np.zeros((64, 40), "int32")
    for row, n in zip(ids, lengths):
        row[:n] = rng.integers(2, 50, n)
    ds = tf.data.Dataset.from_tensor_slices((ids, np.arange(64, dtype="float32")))
    bucketed = bucket_by_length(ds, [8, 16], 8)
    batches = list(bucketed)
    assert int(bucketed.cardinality()) == len(batches)  # Keras' progress bar total, no 'ran out of data'
    seen = np.concatenate([y.numpy() for _, y in batches]).astype(int)
    assert sorted(seen) == list(range(64))  # every review once
    assert all(x.shape[1] == int(tf.reduce_max(tf.math.count_nonzero(x, 1))) for x, _ in batches)  # no extra padding
    model = kerazoo.get("imdb_lstm", vocab_size=50, embedding_dim=4, units=[6], bidirectional=True, pooling="max")
    for x, y in batches[:3]:  # masked layers: a trimmed review scores as its padded self
        rows = y.numpy().astype(int)
        np.testing.assert_allclose(model(x).numpy(), model(ids[rows]).numpy(), atol=1e-5)


def test_recipe_starts_the_embedding_from_word2vec_vectors(tmp_path):
    """`pretrain: {embeddings: <word2vec .keras>}` copies each known token's vector into the embedding."""
    import json

    import keras

    from kerazoo.data.word2vec import Vocabulary

    write_aclimdb(tmp_path)
    docs = [" ".join(WORDS[1] + FILLER), " ".join(WORDS[0] + FILLER)] * 3
    vocab = Vocabulary.build(docs, min_count=1)
    w2v = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, vocabulary=vocab.words)
    w2v.save(tmp_path / "w2v.keras")
    captured = {}

    class Capture(keras.callbacks.Callback):  # the embedding as fit starts, after the pretraining stage
        def on_train_begin(self, logs=None):
            captured["table"] = np.array(self.model.get_layer("embedding").embeddings)

    overlay = {"recipe": {"pretrain": {"embeddings": str(tmp_path / "w2v.keras")},
                          "data": {"sequence_length": 16, "bucket_boundaries": [4, 8]}}}
    result = kerazoo.train("imdb_lstm", epochs=1, batch_size=8, data_dir=tmp_path, output=tmp_path / "run",
                           config=overlay, callbacks=[Capture()], verbose=0,
                           model_overrides={"vocab_size": 30, "embedding_dim": 8, "units": [4]})
    tokens = result.model.get_layer("vectorizer").get_vocabulary()
    vectors = w2v.word_vectors()
    for word in WORDS[1] + WORDS[0] + FILLER:
        np.testing.assert_array_equal(captured["table"][tokens.index(word)], vectors[word])
    record = json.loads((tmp_path / "run" / "embeddings.json").read_text())
    assert record["pretrained_rows"] == len(WORDS[1] + WORDS[0] + FILLER) and record["rows"] == 30
    with pytest.raises(ValueError, match="embedding is 4-d; train with embedding_dim=8"):
        kerazoo.train("imdb_lstm", epochs=1, data_dir=tmp_path, output=tmp_path / "run2", config=overlay, verbose=0,
                      model_overrides={"vocab_size": 30, "embedding_dim": 4, "units": [4]})


def test_search_runs_the_embedding_stage_and_rebatches_bucketed_batches(tmp_path):
    """`kerazoo.tune` on the IMDB recipe: each trial starts from the word vectors; a sampled batch size
    re-batches the length-bucketed pipeline."""
    from kerazoo import tuning
    from kerazoo.data.word2vec import Vocabulary

    write_aclimdb(tmp_path)
    vocab = Vocabulary.build([" ".join(WORDS[1] + WORDS[0] + FILLER)], min_count=1)
    kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, vocabulary=vocab.words).save(tmp_path / "w.keras")
    overlay = {"pretrain": {"embeddings": str(tmp_path / "w.keras")},
               "data": {"sequence_length": 16, "bucket_boundaries": [4, 8]}}
    space = {"objective": "val_accuracy", "batch_size": {"type": "choice", "values": [8, 16]}}
    result = tuning.tune("imdb_lstm", max_trials=2, epochs=1, data_dir=tmp_path, directory=tmp_path / "search",
                         search_space=space, tensorboard=False, verbose=0, config={"recipe": overlay},
                         model_overrides={"vocab_size": 30, "embedding_dim": 8, "units": [4]})
    assert len(result.trials) == 2
    logged = json.loads((result.best_trial_dir / "run.json").read_text())["metrics"]  # the score is its val_accuracy
    assert result.best["score"] == pytest.approx(logged["val_accuracy"]) and "accuracy" in logged
    assert (tmp_path / "search" / "imdb_lstm" / "pretraining" / "embeddings.json").is_file()
