"""The tamper-evident audit ledger (来源可溯、去向可查、行为留痕、责任可究)."""
