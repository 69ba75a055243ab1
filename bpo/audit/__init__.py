"""The audit log: who did what, when, from which state to which, and why."""
