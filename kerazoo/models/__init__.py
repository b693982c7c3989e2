"""One module per model family; importing a module registers its builders.

`kerazoo.get` imports the family a config names, so nothing here is imported eagerly.
"""
FAMILIES = ("lenet", "alexnet", "imdb_rnn", "word2vec", "seq2seq", "autoencoder", "dcgan", "dbn")
