"""Products: one company product = one knowledge base, one widget, one intent model."""
