"""The provider's workforce: agent profiles (skills, capacity, presence, shifts)."""
