"""Reliability tests: bad input, crashes, concurrency, damaged indexes, fuzzing."""
