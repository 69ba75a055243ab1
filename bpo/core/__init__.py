"""Unit of work, errors, authentication and other cross-cutting pieces."""
