"""Accounts over HTTP: sign-in, the current user, users, products and their members.

These routes live apart from ``users`` and ``products`` because the HTTP dependencies
(``backend.api.deps``: current user, product access) are built on those two packages: the routes
sit above ``api`` with the other domains, the two packages below it.
"""
