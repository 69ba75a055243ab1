"""dataentry: payload schemas and checks of its task types."""
