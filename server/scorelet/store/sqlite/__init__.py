"""The SQLite backend: the only place with SQLite SQL, PRAGMAs and the writer."""
