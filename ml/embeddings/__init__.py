"""Sentence embeddings, loaded offline from a local folder or a package that carries weights."""
