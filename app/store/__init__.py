"""The store, the only source of truth: its tables and every SQL read and write, as plain typed
functions (rows in, rows out), plus the derived copies read from it (the purchases' columnar copy,
the offers read). The only package that imports SQLAlchemy or psycopg (with app/db.py). Imports ml."""
