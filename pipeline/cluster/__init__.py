"""Several machines: a coordinator sends audio pieces through a Redis broker to decoders.

- :mod:`.broker`: the Celery app, broker URL checks, the wire format of a piece's audio;
- :mod:`.coordinator`: the coordinator's side of a job (send pieces, collect, store once);
- :mod:`.decoder`: the ``testimony worker`` process that decodes pieces;
- :mod:`.cli`: the ``worker`` command and the cluster lines of ``process``, ``watch``, ``status``.

Nothing here is imported unless a broker is set, so a single machine never imports Celery, and
the default install leaves Celery and Redis's client out: they come with the ``cluster`` extra.
"""

# What only the cluster imports, left out of the default install: Celery, its messaging library
# and Redis's client (the `cluster` extra).
NEEDS = ("celery", "kombu", "redis")
