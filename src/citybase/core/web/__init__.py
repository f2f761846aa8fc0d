"""Web kernel: access markers, error rendering, console layout, templates and static files."""
