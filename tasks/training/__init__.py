"""Training data and training: corpora, the one fit loop, model cards, the NER training recipe."""
