"""Helpers for the tests and benchmarks: brokers, sites, the Kivy driver and its scenarios."""
