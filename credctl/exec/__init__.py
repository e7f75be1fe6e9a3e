"""Running a command for `credctl exec`: finding it, replacing credctl with it, or relaying it.

* `launch` finds the program the way a shell does (exit 127 when it is missing,
  126 when it cannot be run), replaces credctl with it (``execve``) when its
  output needs no masking, and turns a child's death by signal into credctl's.
* `relay` runs the command as a child when ``--mask`` is given: its output
  passes through `masking.StreamMasker`, on a pseudo-terminal when credctl's
  stdout is a terminal, and credctl forwards signals and stdin to it.
* `signals` forwards signals to that child and wakes the relay on each one.
* `masking` is the pure streaming masker.

Only the standard library is used here: ``credctl exec`` runs on the fast path
(SPEC §8).
"""
