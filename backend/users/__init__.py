"""Users, memberships (role per product) and authentication."""
