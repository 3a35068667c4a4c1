"""The broker's configuration templates, read by motcua.broker (package data)."""
