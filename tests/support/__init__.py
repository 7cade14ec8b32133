"""Shared test support: free ports, real subprocesses with captured logs, and readers for our outputs."""
