"""Integrations, client-credential tokens and the bearer dependency that scopes requests to one."""
