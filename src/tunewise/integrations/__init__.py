"""Bridges to other tools' formats and libraries (SageMaker's tuning job JSON, ...).

Each integration is its own module, imported only where used, so importing ``tunewise`` never
loads one (nor any dependency it may need).
"""
