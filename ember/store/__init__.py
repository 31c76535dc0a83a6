"""Durable state: metadata documents in SQLite, content-addressed blobs on disk, and the
queue of asynchronous events (its own SQLite file).

Owns: the data dir's layout (`layout.DataLayout`: nobody else names its files and
folders), the SQLite file and the blob folder, atomic writes, translating sqlite3 and
OSError into `ServiceError` at this seam; group commit (`group_commit`: writes that arrive
together share one transaction and one fsync, for every durable store in the server).
Knows nothing of Lambda's model: control hands it documents. Must never import any other
`ember` package but `errors` and `blocking` (the group commit's worker thread).
"""

from ember.store.blobs import BlobStore
from ember.store.layout import DataLayout
from ember.store.metadata import MetadataStore
from ember.store.queue import EventQueue

__all__ = ["BlobStore", "DataLayout", "EventQueue", "MetadataStore"]
