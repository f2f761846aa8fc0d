"""Normative review (规范性审查): data elements and the rules a resource's metadata must meet."""
