"""Batch jobs with ParallelRunStep semantics: plan, dispatch, retry, assemble, report.

Entry points: :func:`ferry.batch.engine.run_job` and :func:`ferry.batch.engine.resume_job`.
The job folder's contract is :mod:`ferry.batch.definition`; workers come from a
:class:`ferry.workers.compute.Compute` (see :mod:`ferry.backends.local`). Modules, one concept each:

* :mod:`.plan`: inputs -> ordered mini-batches, stored once;
* :mod:`.journal`, :mod:`.ledger`: durable events and the state replayed from them;
* :mod:`.scheduler`: dispatch queue, retries, error threshold;
* :mod:`.dispatcher`, :mod:`.pool`, :mod:`.channel`: the selector loop, workers, sockets;
* :mod:`.outputs`: exactly-once ``append_row`` output; :mod:`.reports`, :mod:`.eventlog`,
  :mod:`.progress`: what users read.
"""
