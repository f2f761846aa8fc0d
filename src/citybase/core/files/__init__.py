"""Files the platform keeps: photos, recordings and documents attached to what people report."""
