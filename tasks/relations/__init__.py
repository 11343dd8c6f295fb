"""Pairs and relations: candidates, one module per method, training."""
