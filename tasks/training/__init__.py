"""Training data and training: corpora, the NER training recipe."""
