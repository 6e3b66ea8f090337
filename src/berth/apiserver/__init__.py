"""The Kubernetes-compatible API server of `berth up`: discovery, OpenAPI, CRUD with every patch type,
watch, server-side Tables, status subresources, finalizers and garbage collection, authentication and the
admission chain, over `berth.store`.

It speaks the wire protocol an unmodified kubectl and the Kubernetes client libraries expect (see the
protocol notes in the shared spec); Berth's own controllers, scheduler and node agents use it as their only
contract. Entry point: `berth.apiserver.server.serve`.
"""
