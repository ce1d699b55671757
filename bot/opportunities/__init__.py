"""Live tender opportunities: feeds → normalized records → opportunities.db → search.

Public API (used by the chat actions):
- `search.SearchQuery`, `search.search(query, now, db_path=None) -> SearchResult`
- `refresh.refresh_all(offline, now, ...)`, `refresh.refresh_source(config, ...)`, `refresh.refresh_from(...)`
- `store.default_db_path()`, `store.read_status()`, `store.amendments_for(source, reference)`
"""
