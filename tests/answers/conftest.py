"""The widget fixtures (site keys, the visitor's client) serve the answer API tests too."""

from tests.widget.conftest import make_site_key, widget

__all__ = ["make_site_key", "widget"]
