"""Intents and labelled examples per product: the training data of the intent gate."""
