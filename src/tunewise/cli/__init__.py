"""The command line: ``tunewise run|status|trials|best|export``."""
