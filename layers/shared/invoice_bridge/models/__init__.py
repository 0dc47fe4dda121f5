"""Domain models. Each module owns one concept; adapters map them to storage and wire formats."""
