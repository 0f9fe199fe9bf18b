"""deskpilot's ML library: embeddings, retrieval, intent classification, generation, evaluation.

Pure Python + ML libraries: never imports backend, fastapi, sqlmodel or celery (checked by
import-linter). Components follow one pattern: validate in the constructor, load heavy things in
``warm_up()``, and have a deterministic fake in ``ml.testing`` for unit tests.
"""
