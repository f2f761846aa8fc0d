"""Sharing between units (共享申请与授权): requests, decisions and grants scoped to fields and
time."""
