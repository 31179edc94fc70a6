"""The `outguard` command line: one module per noun, all calling the admin services."""
