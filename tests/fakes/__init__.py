"""Loopback fakes of the paid engines' HTTP APIs, for tests and benchmarks."""
