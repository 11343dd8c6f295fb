"""Test helpers that are real things, not mocks: a local E-utilities server (`eutils_server`)."""
