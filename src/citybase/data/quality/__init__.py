"""Data quality (数据质量): rules per data item, scored runs with their trend, and disputes."""
