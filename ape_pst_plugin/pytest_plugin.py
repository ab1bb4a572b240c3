"""pytest plugin (entry point ``pytest11``): fixtures for projects that use
the PST protocol from ``ape test``. Filled in by issue 5."""
