"""Chinese full-text search over the catalog, with facets."""
