"""Pure decision logic for the guided flows, over the knowledge tables (no facts live here).

Each function takes the table rows it needs (as `KnowledgeStore.table(name)` or the loader returns them) and,
where time matters, `today`; nothing reads the clock, a file or the network.
"""
