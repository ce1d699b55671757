"""Fixtures for the knowledge tests; the helpers live in knowledge_helpers.py (a unique module name, so that
`from knowledge_helpers import ...` cannot pick up another folder's conftest)."""
from knowledge_helpers import data_dir, edit, knowledge_dir  # noqa: F401 - fixtures are found by name
