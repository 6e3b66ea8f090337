"""The web UI, served by the API server at `/ui/` (docs/ui.md).

`app.py` is an ASGI app mounted beside the Kubernetes API (as the REST app is): it serves the page and its
script, and one live feed of workloads per browser tab, which it builds from the Kubernetes API acting as
the caller (their bearer token), so the UI shows and offers exactly what the API server lets that user
see and do. Nothing is fetched from elsewhere: the page works offline.
"""
