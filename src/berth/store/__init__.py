"""berth.store: the durable MVCC object store under the embedded API server (the etcd + kine role).

JSON objects under (resource, namespace, name) keys in one SQLite file (WAL), one global revision that is
every object's resourceVersion, consistent paged lists at a revision, a change log for watches, and
compaction. It knows nothing of Kubernetes beyond resourceVersion and selectors; uid, generation,
finalizers and validation belong to the API server. Only the names re-exported here are the interface.
"""

from berth.store.errors import (
    AlreadyExists,
    Conflict,
    Expired,
    NotFound,
    SelectorError,
    StoreError,
    UnusableFile,
    WriteFailed,
)
from berth.store.model import Change, ListPage, ResourceRef
from berth.api.selectors import FieldSelector, LabelSelector
from berth.store.sqlite import Store

__all__ = [
    "AlreadyExists",
    "Change",
    "Conflict",
    "Expired",
    "FieldSelector",
    "LabelSelector",
    "ListPage",
    "NotFound",
    "ResourceRef",
    "SelectorError",
    "Store",
    "StoreError",
    "UnusableFile",
    "WriteFailed",
]
