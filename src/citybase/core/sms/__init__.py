"""Text messages (短信) the platform sends: stored, then sent by a stored job through one gateway."""
