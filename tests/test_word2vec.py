"""word2vec: the vocabulary, the training pipeline, planted neighbours, vectors and their files.

The planted structure: word2vec puts words close when they share contexts, so each planted group
is four words that always keep each other's company (a sentence mixes one group's words with
random filler words); after a short training every group word's nearest neighbours are the
other three.
"""
import collections
import json

import keras
import numpy as np
import pytest

import kerazoo
from kerazoo.data.word2vec import Vocabulary, make_dataset
from kerazoo.errors import ConfigError
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
    ds = make_dataset([sentence] * 10, vocab, variant=mode, window_size=3, num_ns=5, batch_size=32, sample=None,
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
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=16, variant=mode, vocabulary=vocab.words)
    model.compile(keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(make_dataset(docs, vocab, batch_size=64, sample=None, seed=0, **model.example_options), epochs=3, verbose=0,
                        shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    wv = model.word_vectors()
    for group in GROUPS:
        for word in group:
            assert {w for w, _ in wv.most_similar(word, 3)} == set(group) - {word}, (word, wv.most_similar(word, 5))


def test_vocabulary_travels_in_the_keras_file(tmp_path):
    vocab = Vocabulary.build(planted_corpus(40), min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=8, variant="cbow", window_size=3,
                        vocabulary=vocab.words)
    model.save(tmp_path / "w2v.keras")
    restored = keras.saving.load_model(tmp_path / "w2v.keras", safe_mode=True)
    assert restored.vocabulary == vocab.words and restored.variant == "cbow" and restored.window_size == 3
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
    with pytest.raises(ValueError, match="Received: variant='glove'"):
        make_dataset(["lonely words"], vocab, variant="glove")
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


def reference_pairs(docs, vocab, window, keep, rng):
    """word2vec.c's loop, word by word: subsample each document, draw each word's reach in
    1..window, pair it with every word within reach on either side (same document)."""
    pairs = []
    for doc in docs:
        ids = [vocab.index[w] for w in doc.split() if w in vocab.index]
        ids = [i for i in ids if rng.random() < keep[i]]
        for pos, target in enumerate(ids):
            reach = rng.integers(1, window + 1)
            pairs += [(target, ids[c]) for c in range(max(0, pos - reach), min(len(ids), pos + reach + 1)) if c != pos]
    return pairs


def test_vectorised_pairs_follow_the_reference_loop():
    """Same distribution of (word, context) pairs as the direct loop, with subsampling and dynamic
    windows, and about as many per pass; windows never cross documents (each document template
    here has words of its own)."""
    rng = np.random.default_rng(0)
    templates = [" ".join(rng.choice(["the", "the", "the", f"a{d}", f"b{d}", f"c{d}"], 12)) for d in range(3)]
    docs = templates * 100
    vocab = Vocabulary.build(docs, min_count=1)
    keep = vocab.keep_probabilities(0.05)
    assert 0.2 < keep[vocab.index["the"]] < 0.9  # "the" (about half the words) is subsampled
    ds = make_dataset(docs, vocab, window_size=3, num_ns=1, batch_size=100, sample=0.05, seed=0)
    got = examples(ds.repeat(5))
    got = collections.Counter(zip(got[0].tolist(), got[1][:, 0].tolist()))
    want = collections.Counter(reference_pairs(docs * 5, vocab, 3, keep, rng))
    doc_of = {vocab.index[w]: d for d in range(3) for w in (f"a{d}", f"b{d}", f"c{d}")}
    assert not [p for p in got if p[0] in doc_of and p[1] in doc_of and doc_of[p[0]] != doc_of[p[1]]]
    support = sorted(set(got) | set(want))
    p, q = (np.array([c[k] for k in support]) / sum(c.values()) for c in (got, want))
    assert 0.5 * np.abs(p - q).sum() < 0.04  # total variation distance between the two pair distributions
    assert sum(got.values()) == pytest.approx(sum(want.values()), rel=0.05)


def segment_pairs(ds, model):
    """(centre, neighbour) pairs a segments model weighs in from a segments pipeline, with their weights, and
    per segment word its negatives' weights and its neighbours."""
    window = model.window_size
    offsets = np.array([*range(-window, 0), *range(1, window + 1)])
    pairs, negatives = collections.Counter(), []
    for (x,) in ds:
        labels, weights = (keras.ops.convert_to_numpy(t) for t in model.segment_targets(x))
        segments, shared = (t.numpy() for t in x)
        n, length = segments.shape
        middle = length - 2 * window
        weights = weights.reshape(n, middle, -1)
        k = shared.shape[1]
        np.testing.assert_array_equal(labels.reshape(n, middle, -1)[0, 0], [1.0] * 2 * window + [0.0] * k)
        for r, c in zip(*np.nonzero(segments[:, window:window + middle])):
            near = segments[r, window + c + offsets]
            for j in np.nonzero(weights[r, c, :2 * window])[0]:
                pairs[int(segments[r, window + c]), int(near[j])] += float(weights[r, c, j])
            negatives.append((shared[r], weights[r, c, 2 * window:], set(near[near > 0])))
        assert np.all(weights[segments[:, window:window + middle] == 0] == 0)  # padding is never a centre
    return pairs, negatives


def test_segments_weigh_in_exactly_the_pairs_of_the_pairs_form():
    """Fixed windows, no subsampling: the segments form scores the same multiset of (word, context) pairs as
    one row per pair, none across documents (segments run over document ends and overlap each other); each
    word's shared negatives weigh num_ns / shared_negatives, except one that is a true neighbour (0)."""
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice([f"d{d % 3}w{i}" for i in range(6)] + ["the"] * 3, rng.integers(1, 15)))
            for d in range(40)]
    vocab = Vocabulary.build(docs, min_count=1)
    options = dict(sample=None, shuffle=False, seed=0)
    words, candidates = examples(make_dataset(docs, vocab, batch_size=64, window_size=2, num_ns=3,
                                              dynamic_window=False, **options))
    want = collections.Counter(zip(words.tolist(), candidates[:, 0].tolist()))
    model = kerazoo.get("word2vec", vocab_size=len(vocab), window_size=2, num_ns=3, examples="segments",
                        segment_length=10, shared_negatives=5, dynamic_window=False)
    ds = make_dataset(docs, vocab, batch_size=20, **model.example_options, **options)
    assert ds.element_spec[0][0].shape.as_list() == [None, 10] and ds.cardinality() == len(list(ds))
    pairs, negatives = segment_pairs(ds, model)
    assert pairs == want
    clashes = 0
    for shared, weights, near in negatives:
        true = np.isin(shared, list(near))
        np.testing.assert_allclose(weights, np.where(true, 0.0, 3 / 5))
        clashes += true.sum()
    assert clashes > 0  # "the" is drawn often and is near most words: the clash rule was exercised


def test_segments_follow_the_reference_loop():
    """With subsampling and dynamic windows (training pipeline: shuffled, re-drawn each pass) the segments
    form weighs in word2vec.c's pairs in expectation: a neighbour at distance d by the chance that the
    reach drawn in 1..window includes it, so the weighted pairs follow the loop's, about as many per pass."""
    rng = np.random.default_rng(0)
    templates = [" ".join(rng.choice(["the", "the", "the", f"a{d}", f"b{d}", f"c{d}"], 12)) for d in range(3)]
    docs = templates * 100
    vocab = Vocabulary.build(docs, min_count=1)
    keep = vocab.keep_probabilities(0.05)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), window_size=3, num_ns=1, examples="segments",
                        segment_length=16, shared_negatives=4)
    ds = make_dataset(docs, vocab, batch_size=100, sample=0.05, seed=0, **model.example_options)
    got = segment_pairs(ds.repeat(5), model)[0]
    want = collections.Counter(reference_pairs(docs * 5, vocab, 3, keep, rng))
    doc_of = {vocab.index[w]: d for d in range(3) for w in (f"a{d}", f"b{d}", f"c{d}")}
    assert not [p for p in got if p[0] in doc_of and p[1] in doc_of and doc_of[p[0]] != doc_of[p[1]]]
    support = sorted(set(got) | set(want))
    p, q = (np.array([c[k] for k in support]) / sum(c.values()) for c in (got, want))
    assert 0.5 * np.abs(p - q).sum() < 0.04
    assert sum(got.values()) == pytest.approx(sum(want.values()), rel=0.05)


@pytest.mark.backends
def test_segments_model_finds_the_planted_groups_and_round_trips(tmp_path):
    """`examples="segments"` with the recipe's compile: the same vectors come out as good (words sharing
    contexts closer than to filler words), and the .keras file keeps the form (example_options)."""
    keras.utils.set_random_seed(0)
    docs = planted_corpus()
    vocab = Vocabulary.build(docs, min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=16, vocabulary=vocab.words, compile=True,
                        examples="segments", segment_length=20, shared_negatives=8)
    assert model.example_options == {"variant": "skipgram", "window_size": 2, "num_ns": 4, "examples": "segments",
                                     "segment_length": 20, "shared_negatives": 8}
    assert model.output_shape == (None, 16 * (4 + 8), 1)
    model.fit(make_dataset(docs, vocab, batch_size=128, sample=None, seed=0, **model.example_options), epochs=2,
              verbose=0, shuffle=False)
    wv = model.word_vectors()
    for group in GROUPS:
        inside = np.mean([wv.unit[wv.index[a]] @ wv.unit[wv.index[b]] for a in group for b in group if a != b])
        outside = np.mean([wv.unit[wv.index[a]] @ wv.unit[wv.index[f]] for a in group for f in FILLER])
        assert inside > outside + 0.3, (group, inside, outside)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert restored.example_options == model.example_options
    np.testing.assert_array_equal(restored.vectors, model.vectors)
    from kerazoo.models.word2vec.training import example_batch

    x, y = example_batch(model, 3, seed=0)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert restored.evaluate(x, verbose=0) == pytest.approx(  # inputs only: the model weighs its scores
        model.evaluate(x, y, sample_weight=keras.ops.convert_to_numpy(model.segment_targets(x)[1]), verbose=0))


def test_segments_errors_say_what_is_accepted():
    vocab = Vocabulary.build(["a b c d"] * 3, min_count=1)
    with pytest.raises(ConfigError, match="skip-gram only; variant='cbow' takes examples='pairs'"):
        make_dataset(["a b c d"], vocab, variant="cbow", examples="segments")
    with pytest.raises(ConfigError, match="skip-gram only; variant='cbow' takes examples='pairs'"):
        kerazoo.get("word2vec", vocab_size=len(vocab), variant="cbow", examples="segments")
    with pytest.raises(ValueError, match=r"more than 2 \* window_size = 8.*Received: segment_length=8"):
        make_dataset(["a b c d"], vocab, window_size=4, examples="segments", segment_length=8)
    with pytest.raises(ConfigError, match="Received: segment_length=8"):
        kerazoo.get("word2vec", vocab_size=len(vocab), window_size=4, examples="segments", segment_length=8)
    with pytest.raises(ConfigError, match=r"one of \['pairs', 'segments'\]. Received: examples='windows'"):
        make_dataset(["a b c d"], vocab, examples="windows")
    with pytest.raises(ConfigError, match=r"the model weighs the windows: build it with .*dynamic_window=False"):
        make_dataset(["a b c d"], vocab, examples="segments", dynamic_window=False)
    with pytest.raises(ConfigError, match="dynamic_window=False is the segments' option.*pass it to make_dataset"):
        kerazoo.get("word2vec", vocab_size=len(vocab), dynamic_window=False)


def test_negatives_are_drawn_again_until_none_is_the_true_word():
    """A vocabulary where one word is most of the corpus: first draws clash often, and the redraws
    leave the negatives distributed as unigram^0.75 restricted to the other words."""
    rng = np.random.default_rng(1)
    docs = [" ".join(rng.choice(["x"] * 30 + ["y", "z"], 40)) for _ in range(60)]
    vocab = Vocabulary.build(docs, min_count=1)
    _, candidates = examples(make_dataset(docs, vocab, num_ns=6, sample=None, batch_size=512, seed=2))
    true, negatives = candidates[:, 0], candidates[:, 1:]
    assert np.all(negatives != true[:, None]) and np.all(negatives > 0)
    x = vocab.index["x"]
    weights = vocab.counts.astype(float) ** 0.75
    rows = true == vocab.index["y"]  # negatives of "y": "x" and "z" in proportion to count^0.75
    share_x = np.mean(negatives[rows] == x)
    assert share_x == pytest.approx(weights[x] / (weights[x] + weights[vocab.index["z"]]), abs=0.025)


def test_alias_table_reproduces_the_distribution_exactly():
    from kerazoo.data.word2vec import alias_table

    p = np.random.default_rng(0).random(1000) ** 4
    p[[0, 17]] = 0.0
    p /= p.sum()
    accept, alias = alias_table(p)
    implied = accept + np.bincount(alias, weights=1 - accept, minlength=len(p))
    np.testing.assert_allclose(implied / len(p), p, atol=1e-12)
    assert accept[0] == 0 and not np.any(alias[accept < 1] == 0)  # a zero-probability id is never drawn


def test_rowwise_adagrad_updates_only_the_rows_a_batch_touches():
    """TensorFlow's sparse (embedding) gradients: each occurrence adds its mean squared gradient to its row's
    accumulator, and rows not in the batch keep their values and accumulators."""
    import tensorflow as tf

    from kerazoo.optimizers import RowwiseAdagrad

    table = keras.Variable(np.ones((5, 3), "float32"))
    opt = RowwiseAdagrad(0.5)
    opt.build([table])
    grads = np.array([[1.0, 2.0, 2.0], [0.5, 0.0, 0.5], [3.0, 0.0, 0.0]], "float32")
    opt.apply([tf.IndexedSlices(tf.constant(grads), tf.constant([1, 3, 1]))], [table])
    acc = np.zeros(5)
    acc[1] = (grads[0] ** 2).mean() + (grads[2] ** 2).mean()
    acc[3] = (grads[1] ** 2).mean()
    want = np.ones((5, 3))
    want[1] -= 0.5 * (grads[0] + grads[2]) / np.sqrt(acc[1] + 1e-10)
    want[3] -= 0.5 * grads[1] / np.sqrt(acc[3] + 1e-10)
    np.testing.assert_allclose(np.asarray(table), want, rtol=1e-5)
    accumulator = next(v for v in opt.variables if "accumulator" in v.name)
    np.testing.assert_allclose(np.asarray(accumulator), acc, rtol=1e-6)


@pytest.mark.backends
def test_rowwise_adagrad_dense_gradients_on_every_backend():
    """A dense gradient (JAX's and PyTorch's for an Embedding): rows with a zero gradient keep their values and
    accumulators, the others move by learning_rate * g / sqrt(acc) with acc their mean squared gradient,
    accumulated over steps; a 1-d variable gets element-wise AdaGrad."""
    from kerazoo.optimizers import RowwiseAdagrad

    table, bias = keras.Variable(np.ones((5, 3), "float32")), keras.Variable(np.ones(3, "float32"))
    opt = RowwiseAdagrad(0.5)
    opt.build([table, bias])
    g = np.zeros((5, 3), "float32")
    g[1], g[3] = [1.0, 2.0, 2.0], [0.5, 0.0, 0.5]
    gb = np.array([1.0, -2.0, 0.0], "float32")
    want, acc, want_b, acc_b = np.ones((5, 3)), np.zeros(5), np.ones(3), np.zeros(3)
    for _ in range(2):
        opt.apply([keras.ops.convert_to_tensor(g), keras.ops.convert_to_tensor(gb)], [table, bias])
        acc += (g ** 2).mean(axis=1)
        want -= 0.5 * g / np.sqrt(acc + 1e-10)[:, None]
        acc_b += gb ** 2
        want_b -= 0.5 * gb / np.sqrt(acc_b + 1e-10)
    np.testing.assert_allclose(np.asarray(table), want, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bias), want_b, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(table)[[0, 2, 4]], 1.0)
    accumulator = next(v for v in opt.variables if "accumulator" in v.name and tuple(v.shape) == (5,))
    np.testing.assert_allclose(np.asarray(accumulator), acc, rtol=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_the_recipe_compile_finds_the_planted_groups(mode, tmp_path):
    """`compile=True` (the recipe: row-wise AdaGrad, XLA) brings words that share contexts closer,
    and the compiled model round-trips through a .keras file with its optimizer."""
    keras.utils.set_random_seed(0)
    docs = planted_corpus()
    vocab = Vocabulary.build(docs, min_count=1)
    model = kerazoo.get("word2vec", vocab_size=len(vocab), embedding_dim=16, variant=mode, vocabulary=vocab.words,
                        compile=True)
    assert type(model.optimizer).__name__ == "RowwiseAdagrad" and model.jit_compile
    model.fit(make_dataset(docs, vocab, batch_size=64, sample=None, seed=0, **model.example_options), epochs=2, verbose=0, shuffle=False)
    wv = model.word_vectors()
    for group in GROUPS:  # mean cosine within a group vs to the filler words (measured: 0.6-0.9 vs 0.1-0.3)
        inside = np.mean([wv.unit[wv.index[a]] @ wv.unit[wv.index[b]] for a in group for b in group if a != b])
        outside = np.mean([wv.unit[wv.index[a]] @ wv.unit[wv.index[f]] for a in group for f in FILLER])
        assert inside > outside + 0.3, (group, inside, outside)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert type(restored.optimizer).__name__ == "RowwiseAdagrad"
    np.testing.assert_array_equal(restored.vectors, model.vectors)


def test_kerazoo_train_word2vec_on_a_csv_corpus_through_the_cli(tmp_path):
    """`kerazoo train word2vec --corpus table.csv --text-column text`: quoted commas and newlines
    inside the text, the vectors carry the corpus' words."""
    import csv
    import subprocess
    import sys

    docs = planted_corpus(80)
    with open(tmp_path / "corpus.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i, doc in enumerate(docs):
            words = doc.split()
            writer.writerow([i, " ".join(words[:6]) + ",\n" + " ".join(words[6:])])
    args = [sys.executable, "-m", "kerazoo.cli", "train", "word2vec", "--corpus", str(tmp_path / "corpus.csv"),
            "--text-column", "text", "--epochs", "1", "--batch-size", "64", "--set", "vocab_size=33",
            "--set", "embedding_dim=8", "--output", str(tmp_path / "run")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Trained word2vec: no test split to score on; everything is in {tmp_path / 'run'}" in done.stdout
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["dataset"] == "text" and run["recipe"]["data"]["text_column"] == "text"
    assert run["recipe"]["optimizer"] == "rowwise_adagrad"  # the recipe's settings, the user's text
    shipped = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert set(shipped.vocabulary[1:]) == {w for d in docs for w in d.split()}


def test_corpus_errors_name_the_file_and_what_is_accepted(tmp_path, capsys):
    from kerazoo import cli
    from kerazoo.data.word2vec import read_corpus

    (tmp_path / "latin1.txt").write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt, line 2: not valid utf-8"):
        read_corpus(tmp_path / "latin1.txt")
    (tmp_path / "t.tsv").write_text("label\tbody\n1\tgreat film\n0\t\n", encoding="utf-8")
    assert read_corpus(tmp_path / "t.tsv", text_column="body") == ["great film"]  # empty rows left out
    with pytest.raises(ValueError, match=r"t.tsv is a table: name its text column.*'label', 'body'"):
        read_corpus(tmp_path / "t.tsv")
    with pytest.raises(ValueError, match="names a column of a .csv or .tsv table"):
        read_corpus(tmp_path / "latin1.txt", text_column="body")
    assert cli.main(["train", "word2vec", "--text-column", "body"]) == 2
    assert "give --corpus" in capsys.readouterr().err
    assert cli.main(["train", "word2vec", "--corpus", str(tmp_path / "t.tsv"), "--text-column", "review",
                     "--output", str(tmp_path / "run")]) == 2
    assert "t.tsv has no column named 'review'. Its columns: 'label', 'body'." in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--corpus", str(tmp_path / "t.tsv")]) == 2
    assert "--corpus trains word vectors" in capsys.readouterr().err


def test_long_documents_are_cut_into_pieces(monkeypatch):
    """A one-line corpus still trains in chunks: windows stop at the cuts every MAX_DOCUMENT_LENGTH words."""
    from kerazoo.data import word2vec as w2v

    monkeypatch.setattr(w2v, "MAX_DOCUMENT_LENGTH", 10)
    sentence = " ".join(f"t{i:02d}" for i in range(30))
    vocab = Vocabulary.build([sentence], min_count=1)
    position = {vocab.index[f"t{i:02d}"]: i for i in range(30)}
    words, candidates = examples(make_dataset([sentence], vocab, window_size=3, dynamic_window=False, sample=None,
                                              batch_size=16, shuffle=False))
    first, second = np.vectorize(position.get)(words), np.vectorize(position.get)(candidates[:, 0])
    assert len(words) == 3 * 2 * (9 + 8 + 7)  # three pieces of 10 words, every pair within distance 3
    assert np.all(first // 10 == second // 10) and np.abs(first - second).max() == 3
