"""word2vec: the vocabulary, the training pipeline, planted neighbours, vectors and their files.

The planted structure: word2vec puts words close when they share contexts, so each planted group
is four words that always keep each other's company (a sentence mixes one group's words with
random filler words); after a short training every group word's nearest neighbours are the
other three.
"""
import json

import keras
import numpy as np
import pytest

import kerazoo
from kerazoo.data.word2vec import Vocabulary, make_dataset
from kerazoo.models.word2vec import WordVectors

GROUPS = [("alpha", "beta", "gamma", "delta"), ("red", "green", "blue", "yellow"),
          ("north", "south", "east", "west"), ("one", "two", "three", "four")]
FILLER = [f"w{i}" for i in range(16)]


def planted_corpus(n_docs=150, length=12, seed=0):
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n_docs):
        group = GROUPS[rng.integers(len(GROUPS))]
        docs.append(" ".join(group[rng.integers(4)] if rng.random() < 0.5 else FILLER[rng.integers(16)]
                             for _ in range(length)))
    return docs


def examples(ds):
    words, candidates = [], []
    for (w, c), labels in ds:
        np.testing.assert_array_equal(labels.numpy(), np.eye(1, c.shape[1]).repeat(len(c), 0))
        words.append(w.numpy())
        candidates.append(c.numpy())
    return np.concatenate(words), np.concatenate(candidates)


def test_vocabulary_min_count_frequency_order_and_round_trip(tmp_path):
    corpus = ["The cat, the DOG.", "the cat<br />sat", "the cat and the dog", "a cat"]
    vocab = Vocabulary.build(corpus, min_count=2)
    # standardised like the text classifiers; "sat", "and", "a" (once each) are left out
    assert vocab.words == ["", "the", "cat", "dog"] and vocab.counts.tolist() == [0, 5, 4, 2]
    assert Vocabulary.build(corpus, min_count=1, max_size=4).words == ["", "the", "cat", "dog"]
    assert Vocabulary.build(corpus, min_count=1).words[4:] == ["a", "and", "sat"]  # ties: alphabetical
    ids = vocab.encode(["the cat sat on the dog"]).to_list()
    assert ids == [[1, 2, 1, 3]]  # out-of-vocabulary words dropped
    path = vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(path)
    assert again.words == vocab.words and again.counts.tolist() == vocab.counts.tolist()
    (tmp_path / "corpus.txt").write_text("\n".join(corpus))
    assert Vocabulary.build(tmp_path / "corpus.txt", min_count=2).words == vocab.words  # a path works too


def test_subsampling_keeps_frequent_words_with_probability_sqrt_t_over_f():
    rng = np.random.default_rng(0)
    others = [f"x{i}" for i in range(50)]
    docs = [" ".join("the" if i % 2 else others[rng.integers(50)] for i in range(200)) for _ in range(20)]
    vocab = Vocabulary.build(docs, min_count=1)
    keep = vocab.keep_probabilities(0.02)
    f_the = vocab.counts[vocab.index["the"]] / vocab.counts.sum()
    assert f_the == 0.5 and keep[vocab.index["the"]] == pytest.approx(np.sqrt(0.02 / 0.5))
    assert keep[0] == 0 and np.all(keep[2:] == 1.0)  # the x<i> (f about 0.01 < t) are always kept

    def share_of_the(sample):
        words, _ = examples(make_dataset(docs, vocab, window_size=1, dynamic_window=False, sample=sample,
                                         batch_size=512, shuffle=False, seed=1))
        return np.mean(words == vocab.index["the"])

    kept = np.sqrt(0.02 / 0.5)  # half the words are "the": their examples shrink by this factor
    assert share_of_the(None) == pytest.approx(0.5, abs=0.01)
    assert share_of_the(0.02) == pytest.approx(0.5 * kept / (0.5 * kept + 0.5), rel=0.15)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_pipeline_shapes_windows_and_negatives(mode):
    sentence = " ".join(f"t{i:02d}" for i in range(30))  # word t<i> sits at position i
    vocab = Vocabulary.build([sentence] * 10, min_count=1)
    position = {vocab.index[f"t{i:02d}"]: i for i in range(30)}
    ds = make_dataset([sentence] * 10, vocab, mode=mode, window_size=3, num_ns=5, batch_size=32, sample=None,
                      seed=0)
    assert ds.cardinality() > 0 and len(list(ds)) == len(list(ds)) == ds.cardinality()  # fixed-length epochs
    (w, c), labels = next(iter(ds))
    assert c.shape == (32, 6) and labels.shape == (32, 6) and w.shape == ((32,) if mode == "skipgram" else (32, 6))
    words, candidates = examples(ds)
    true = candidates[:, 0]
    if mode == "skipgram":
        distance = np.abs([position[t] - position[x] for t, x in zip(words, true)])
        assert distance.min() == 1 and distance.max() == 3
    else:  # the window holds the target's neighbours at offsets -3..-1, 1..3, or 0 (padding)
        offsets = np.array([-3, -2, -1, 1, 2, 3])
        expected = np.array([[position[t] + o for o in offsets] for t in true])
        got = np.vectorize(lambda i: position.get(i, -99))(words)
        assert np.all((words == 0) | (got == expected)) and np.all((words != 0).any(axis=1))
    negatives = candidates[:, 1:]
    # by design a negative is never the example's true word (redrawn on a clash), nor the padding
    assert np.all(negatives != true[:, None]) and np.all(negatives > 0)


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters():
    rng = np.random.default_rng(0)
    pool = ["a"] * 16 + ["b"] + [f"c{i}" for i in range(5) for _ in range(4)]
    docs = [" ".join(rng.choice(pool, 100)) for _ in range(40)]
    vocab = Vocabulary.build(docs, min_count=1)
    _, candidates = examples(make_dataset(docs, vocab, num_ns=4, sample=None, batch_size=512, seed=0))
    a, b = vocab.index["a"], vocab.index["b"]
    negatives = candidates[~np.isin(candidates[:, 0], [a, b]), 1:]
    ratio = np.sum(negatives == a) / np.sum(negatives == b)
    assert ratio == pytest.approx((vocab.counts[a] / vocab.counts[b]) ** 0.75, rel=0.12)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_short_training_finds_the_planted_groups(mode):
    keras.utils.set_random_seed(0)
    docs = planted_corpus()
    vocab = Vocabulary.build(docs, min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=16, mode=mode, vocabulary=vocab.words)
    model.compile(keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(model.dataset(docs, vocab, batch_size=64, sample=None, seed=0), epochs=3, verbose=0,
                        shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    wv = model.word_vectors()
    for group in GROUPS:
        for word in group:
            assert {w for w, _ in wv.most_similar(word, 3)} == set(group) - {word}, (word, wv.most_similar(word, 5))


def test_vocabulary_travels_in_the_keras_file(tmp_path):
    vocab = Vocabulary.build(planted_corpus(40), min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, mode="cbow", window_size=3,
                        vocabulary=vocab.words)
    model.save(tmp_path / "w2v.keras")
    restored = keras.saving.load_model(tmp_path / "w2v.keras", safe_mode=True)
    assert restored.vocabulary == vocab.words and restored.mode == "cbow" and restored.window_size == 3
    np.testing.assert_array_equal(restored.vectors, model.vectors)
    assert restored.word_vectors().most_similar("alpha", 5) == model.word_vectors().most_similar("alpha", 5)
    bare = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8)
    with pytest.raises(ValueError, match="carries no vocabulary"):
        bare.word_vectors()
    named = bare.with_vocabulary(vocab.words)
    assert named.vocabulary == vocab.words and np.array_equal(named.vectors, bare.vectors)


def test_most_similar_and_analogy_on_known_vectors():
    words = ["", "king", "queen", "man", "woman", "apple"]
    vectors = np.array([[0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1], [-1, 0.1, 0.1]], dtype="float32")
    wv = WordVectors(vectors, words)
    unit = vectors[1:] / np.linalg.norm(vectors[1:], axis=1, keepdims=True)
    neighbours = wv.most_similar("king", k=10)
    assert [w for w, _ in neighbours] == ["man", "queen", "woman", "apple"]  # itself and the padding left out
    np.testing.assert_allclose([s for _, s in neighbours], unit[[2, 1, 3, 4]] @ unit[0], rtol=1e-6)  # cosines
    assert wv.analogy("king", "man", "woman")[0][0] == "queen"  # king - man + woman
    assert [w for w, _ in wv.analogy("king", "man", "woman", k=5)] == ["queen", "apple"]


def test_projector_files_and_neighbour_plot(tmp_path):
    vocab = Vocabulary.build(planted_corpus(40), min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, vocabulary=vocab.words)
    wv = model.word_vectors()
    vectors_tsv, metadata_tsv = wv.save_projector(tmp_path / "projector")
    rows = np.loadtxt(vectors_tsv, delimiter="\t")
    assert rows.shape == (len(vocab) - 1, 8)  # the padding row is left out
    np.testing.assert_allclose(rows, model.vectors[1:], rtol=1e-5)
    assert metadata_tsv.read_text().splitlines() == vocab.words[1:]
    png = wv.plot_neighbours(["alpha", "red"], tmp_path / "neighbours.png", k=3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocabulary.build([])
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocabulary.build(["", " ... "])
    with pytest.raises(ValueError, match=r"min_count=5 .*'the'"):
        Vocabulary.build(["the cat", "the dog"])
    vocab = Vocabulary.build(["lonely words", "lonely words"], min_count=1)
    with pytest.raises(ValueError, match="nothing to train on"):
        make_dataset(["lonely", "words"], vocab)
    with pytest.raises(ValueError, match="Received: mode='glove'"):
        make_dataset(["lonely words"], vocab, mode="glove")
    wv = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=4, vocabulary=vocab.words).word_vectors()
    with pytest.raises(KeyError, match="'lovely' is not in the vocabulary.*Closest: lonely"):
        wv.most_similar("lovely")
    with pytest.raises(KeyError, match="'zeta' is not in the vocabulary"):
        wv.analogy("lonely", "words", "zeta")
    with pytest.raises(ValueError, match="vocab_size=20000 distinct words"):
        kerazoo.get("word2vec", vocabulary=vocab.words)


def test_kerazoo_train_ships_a_model_with_its_vocabulary(tmp_path):
    (tmp_path / "corpus.txt").write_text("\n".join(planted_corpus(60)))
    overlay = {"model": {"vocab_size": 33, "embedding_dim": 8},
               "recipe": {"dataset": "text", "data": {"path": str(tmp_path / "corpus.txt"), "min_count": 1},
                          "batch_size": 64, "validation_split": 0.2}}
    result = kerazoo.train("word2vec", output=tmp_path / "run", epochs=1, config=overlay, verbose=0)
    shipped = keras.saving.load_model(result.output / "model.keras", safe_mode=True)
    assert len(shipped.vocabulary) == 33 and "alpha" in shipped.word_vectors()
    assert "val_loss" in result.history
    assert json.loads((result.output / "run.json").read_text())["model"]["vocab_size"] == 33
    assert {p.name for p in result.plots} >= {"neighbours.png"}
    assert (result.output / "projector" / "vectors.tsv").is_file()


def test_savedmodel_serves_word_vectors(tmp_path):
    """The exported `serving_default` maps words to the input-embedding rows; unknown words say so."""
    import tensorflow as tf

    from kerazoo.exporting import export_saved_model

    vocab = Vocabulary.build(planted_corpus(), min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, vocabulary=vocab.words)
    export_saved_model(model, tmp_path / "sm", name="word2vec")
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = served(tf.constant(["alpha", "Red!", "zebra"]))
    vectors = model.word_vectors()
    np.testing.assert_array_equal(out["vectors"].numpy()[:2], np.stack([vectors["alpha"], vectors["red"]]))
    assert out["known"].numpy().tolist() == [True, True, False]
    stored = tf.train.load_checkpoint(str(tmp_path / "sm" / "variables" / "variables")).get_variable_to_shape_map()
    assert sorted(s for k, s in stored.items() if "VARIABLE_VALUE" in k) == [[len(vocab), 8]]  # word vectors only


def test_linear_probe_reads_what_the_vectors_carry():
    """A probe on averaged vectors separates texts by their planted group only if the vectors do."""
    from kerazoo.models.word2vec import linear_probe_accuracy

    docs = planted_corpus(200, seed=1)
    labels = np.array([int(any(w in d.split() for w in GROUPS[0] + GROUPS[1])) for d in docs])
    vocab = Vocabulary.build(docs, min_count=1)
    rng = np.random.default_rng(0)
    grouped = rng.normal(size=(len(vocab), 8)).astype("float32")  # planted vectors: one direction per group
    for g, group in enumerate(GROUPS):
        for w in group:
            grouped[vocab.index[w]] = np.eye(8)[g] * 3 + rng.normal(scale=0.1, size=8)
    split = (docs[:100], labels[:100]), (docs[100:], labels[100:])
    assert linear_probe_accuracy(WordVectors(grouped, vocab.words), *split) > 0.95
    noise = WordVectors(rng.normal(size=(len(vocab), 8)), vocab.words)
    assert linear_probe_accuracy(noise, *split) < 0.9
