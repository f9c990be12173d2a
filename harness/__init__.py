"""Development harness shared by tests/ and bench/ (not shipped in the image)."""
