"""Other transformer tasks: embeddings and search, classification, QA, summaries."""
