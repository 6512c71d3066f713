"""The Natural Earth outline drawn under the report map (package data)."""
