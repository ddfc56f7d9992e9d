"""The dashboard: server-rendered pages for operators, mounted at /dashboard."""
