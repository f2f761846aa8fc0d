"""The demo city: Fuzhou's regions and the units its digital plans name, with one user per role."""
