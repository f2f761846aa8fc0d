"""Masking and de-identification (脱敏, GB/T 37964): operators, policies per level and field kind."""
