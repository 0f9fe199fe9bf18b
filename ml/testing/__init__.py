"""Deterministic fakes of the ``ml.interfaces`` Protocols, for unit tests of logic only."""
