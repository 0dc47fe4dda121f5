"""Adapters: the only modules that talk to AWS, HTTP and other outside systems."""
