"""The knowledge base: load, validate and build the staff-edited files in `knowledge/` into `knowledge.db`.

Modules: `schema` (what a topic and each table row may contain), `loader` (files to Python, with line numbers),
`validate` (every check, as `path:line: message` problems), `build` (atomic SQLite build), `store` (read-only
run-time access), `freshness` (review status), `training` (intents and the held-out split), `cli`.
Nothing is read or opened at import time.
"""
