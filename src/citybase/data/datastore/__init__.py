"""A resource's contents: its rows, in typed columns that follow its data items."""
