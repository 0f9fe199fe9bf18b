"""The widget fixtures (site keys, CORS-aware client) serve the answer API tests too."""

from tests.widget.conftest import created_keys, make_site_key, widget

__all__ = ["created_keys", "make_site_key", "widget"]
