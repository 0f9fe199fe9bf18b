"""Deterministic fakes of ``ml`` components and of the answer pipeline's dependencies, for unit
tests of logic only."""
