"""Helpers the tests import as ``helpers.<module>`` (tests/ is on sys.path through its
conftest.py) and scripts they run as subprocesses."""
