"""The fault-injection suite: one fault per case, injected into a running bot loop.

Every case checks the library's first promise (the bot comes first) three ways, each able to
fail: the loop kept cycling, the bot's own exceptions came out of ``cycle_timer`` as the same
objects, and everything the bot recorded reached the metrics or files unless it was counted as
dropped. ``python -m tests.faults`` runs the suite and prints one row per case; see
docs/reliability.md.
"""
