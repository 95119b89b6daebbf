"""Online endpoints at run time: the scoring gateway and the replicas behind it.

* :mod:`.gateway`: the raw ASGI layer answering ``/endpoints/<name>/score``, ``swagger.json``
  and ``/metrics``;
* :mod:`.routing`: keys and the traffic split of an endpoint; :mod:`.keys`: credentials;
* :mod:`.pool`: a deployment's replicas, admission (429) and queueing; :mod:`.batcher`: dynamic
  batching; :mod:`.work`: the units sent to replicas;
* :mod:`.replica`: one worker process and its frame channel (:mod:`.channel`);
* :mod:`.supervisor`: start-up, probes, restarts and provisioning state of a deployment;
* :mod:`.service`: all deployments of a workspace, reconciled with the store;
* :mod:`.metrics`, :mod:`.logs`, :mod:`.swagger`: observability.

Nothing is imported here, so the services can use :mod:`.keys` without the gateway.
"""
