"""HTTP dependencies (settings, session, current user, product access); routers mount in main."""
