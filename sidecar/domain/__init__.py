"""Business rules as plain functions. They call storage functions; they never build SQL."""
