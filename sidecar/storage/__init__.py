"""Storage functions: each takes a SQLAlchemy connection and returns plain data (dicts, ids).

The domain never builds SQL; this package never decides business rules.
"""
