"""Data products (数据产品): authorized operation, products, contracts with usage policies."""
