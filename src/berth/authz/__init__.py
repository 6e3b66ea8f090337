"""Who may do what: Berth's roles and the pure verdict (`roles`), the users and their hashed tokens kept in
the data directory (`users`), and the same rules as Kubernetes RBAC objects for a real cluster (`rbac`)."""
