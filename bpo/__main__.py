"""``python -m bpo …`` is the ``bpo`` command (used by ``bpo up`` for its children)."""

from bpo.cli import main

main()
