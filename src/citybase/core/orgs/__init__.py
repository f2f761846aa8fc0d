"""Regions (city ▸ district ▸ street ▸ community ▸ grid) and the government units in them."""
