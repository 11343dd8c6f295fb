"""Concept linking: the lexicon, normalisation of mentions to IDs, the MeSH tree."""
