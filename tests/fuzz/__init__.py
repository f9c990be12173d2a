"""The model-based sync fuzzer (issue 18): :mod:`tests.fuzz.machine`, run by tests/test_fuzz.py."""
