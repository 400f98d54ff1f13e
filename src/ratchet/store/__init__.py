"""Durable state: SQLAlchemy Core tables, Alembic migrations, and the ``Store`` port on SQL.

=====================  ==============================================================
module                 what it holds
=====================  ==============================================================
``tables``             the tables (money as exact decimal text, never float)
``database``           open a database by URL: SQLite (WAL), SQLCipher, PostgreSQL
``schema``             Alembic migrations run programmatically; the schema check
``codec``              domain objects <-> rows (pure, no I/O)
``repository``         the synchronous unit of work: commit a batch, load the state
``sql_store``          :class:`SqlStore`, the async ``Store`` port on one writer thread
``queries``            small read-only queries for the command line
``encrypt``            convert a plain SQLite database into a SQLCipher one
=====================  ==============================================================
"""

from ratchet.store.database import DEFAULT_URL, Database
from ratchet.store.errors import SchemaError, StoreConfigError, StoreError
from ratchet.store.sql_store import SqlStore

__all__ = ["DEFAULT_URL", "Database", "SchemaError", "SqlStore", "StoreConfigError", "StoreError"]
