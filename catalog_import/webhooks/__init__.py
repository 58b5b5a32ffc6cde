"""Webhooks (CONTRACT §6): messages written to an outbox in the transaction that produced them, then
signed and delivered, with retries and backoff, by a loop in every worker."""
