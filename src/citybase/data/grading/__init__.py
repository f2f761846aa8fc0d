"""Classification and grading of data resources (分类分级, GB/T 43697-2024)."""
