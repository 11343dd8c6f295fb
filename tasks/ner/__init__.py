"""Named-entity recognition: the tagging engine, model loading, ensembles, BIO label decoding, evaluation."""
