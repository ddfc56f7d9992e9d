"""subgroups."""
