"""The Braze-compatible JSON API: its routes, and how they read requests and authorise keys."""
