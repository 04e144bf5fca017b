"""Adapters to other frameworks. Each imports its framework; nothing here is imported by thrifty itself."""
