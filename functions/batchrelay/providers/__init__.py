"""Provider adapters behind one interface (see base.py)."""
