"""Benchmarks run against a live `ember serve` (`make bench`); not tests."""
