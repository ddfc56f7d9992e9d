"""Use cases. Services take their stores and clock in `__init__`, and speak only domain values."""
