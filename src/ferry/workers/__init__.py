"""The worker layer shared by batch jobs and online replicas.

A worker is a process running :mod:`ferry.runtime.worker` in a deployment's environment: batch
workers take mini-batches, online replicas take requests, both over a socket they connect back
to. Modules, one concept each:

* :mod:`~ferry.workers.spec`: :class:`WorkerSpec`, everything one worker is started with;
* :mod:`~ferry.workers.compute`: the :class:`Compute` port (start, watch, kill) that backends
  implement, and :func:`describe_exit`, the one text for how a worker ended;
* :mod:`~ferry.workers.environ`: the one way a spec's variables and secrets become a process's
  environment.

Backends (:mod:`ferry.backends.local`, :mod:`ferry.backends.ray`) import this package; it imports
nothing from them.
"""
