"""Users, roles, API keys and console sessions; the permission checks every domain uses."""
