"""The HTTP surface: the only package that imports the web framework."""
