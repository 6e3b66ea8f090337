"""Continue tokens: where the next page of a list starts, and at which revision it is read.

A token is opaque to clients (URL-safe base64 of a small JSON object) but carries no secret: it says
"the list as of revision `rv`, keys strictly after (`ns`, `name`)". Serving every page at the first page's
revision is what makes a paged list a consistent snapshot. A token that does not decode is the client's
mistake and raises StoreError (400), never a 500.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from berth.store.errors import StoreError

_VERSION = 1


def encode(revision: int, namespace: str, name: str) -> str:
    """The token for the page after key (namespace, name) of a list at `revision`."""
    raw = orjson.dumps({"v": _VERSION, "rv": revision, "ns": namespace, "name": name})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(token: str) -> tuple[int, str, str]:
    """(revision, namespace, name) of a token made by `encode`; StoreError for anything else."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError, orjson.JSONDecodeError):
        raise StoreError(f"invalid continue token {token!r}: not produced by this server") from None
    if (not isinstance(data, dict) or data.get("v") != _VERSION or type(data.get("rv")) is not int
            or data["rv"] < 0 or not isinstance(data.get("ns"), str) or not isinstance(data.get("name"), str)):
        raise StoreError(f"invalid continue token {token!r}: not produced by this server")
    return data["rv"], data["ns"], data["name"]
