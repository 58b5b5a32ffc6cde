"""The status dashboard: server-rendered pages at ``/dashboard`` where an integration signs in with its
client id and secret and follows its imports — progress, throughput, failures — and cancels the ones not
committed. Not part of the HTTP API (the routes are left out of the OpenAPI document)."""
