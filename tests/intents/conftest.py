"""Intent tests share the committed-database API fixture of the knowledge tests."""

from tests.knowledge.conftest import kb  # noqa: F401  (re-exported fixture)
