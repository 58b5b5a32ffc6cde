"""Read endpoints for the catalog: enough to see what an import did."""
