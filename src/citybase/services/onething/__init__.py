"""One-thing service packages (高效办成一件事): several units' matters applied for once, with
one form filled from what the city already knows, handled in parallel and followed as one."""
