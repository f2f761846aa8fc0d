"""The kernel: settings, storage, organisations, identity, ledger, bus and web. Imports no layer."""
