"""Who may do what: Berth's roles and the pure verdict (`roles`), and the same rules as Kubernetes RBAC
objects for a real cluster (`rbac`). Pure: no I/O. Who holds which token is the API server's business
(`berth.apiserver.users`)."""
