"""The PostgreSQL backend: see backend.py."""
