"""The HTTP surface (JSON API, dashboard, server): the only package that imports the web framework."""
