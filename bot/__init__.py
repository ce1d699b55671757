"""Supplier Navigator: a conversational guide for small firms selling to Ontario and Canada."""
