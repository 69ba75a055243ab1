"""Who acts: a reference for the audit log plus a display name."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    ref: str  # "client:<id>", "staff:<id>", "token:<id>" or "system"
    name: str

    @property
    def is_client(self) -> bool:
        return self.ref.startswith(("client:", "token:"))


SYSTEM = Actor("system", "BPO platform")
