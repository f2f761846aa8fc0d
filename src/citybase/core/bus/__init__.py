"""Domain events through a transactional outbox, and stored scheduled work."""
