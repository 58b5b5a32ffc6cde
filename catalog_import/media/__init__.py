"""Media files: fetched from their source URLs during the commit (with the address rules applied to every
connection), recognised by their bytes, and kept in content-addressed storage."""
