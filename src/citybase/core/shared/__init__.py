"""What every process of one platform must share: counts in windows and one-time claims."""
