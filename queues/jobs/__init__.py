"""Job functions: thin, ids only; each restores the app and calls a service."""
