"""Small helpers shared across the zoo: atomic file writes, plotting."""
