"""zoo.detection."""
