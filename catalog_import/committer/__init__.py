"""The worker side of an import: prepare the commit (references, dependencies, levels), then write the
catalog level by level in batches, each batch in one transaction together with its records' state."""
