"""Code that runs inside the user's environment, with the environment's own interpreter.

Standard library only: the user's virtualenv has neither Ferry's dependencies nor Ferry itself;
the server puts the folder holding this package on PYTHONPATH (see :mod:`.launch`) and runs
``python -m ferry.runtime.worker``. Modules import each other relatively, never ``ferry.*``.

* :mod:`.frames`, :mod:`.messages`: the socket protocol between server and worker;
* :mod:`.launch`: the worker's command line and environment, for the server;
* :mod:`.worker`: the worker process; :mod:`.loader`: loading ``score.py``;
* :mod:`.online`, :mod:`.batch`: the online and batch scoring contracts;
* :mod:`.azureml_shims`: ``rawhttp``, ``AMLRequest``, ``AMLResponse``, ``EntryScript`` and the
  import shims for Azure ML's module paths.

Nothing is imported here, so ``import ferry.runtime.frames`` stays cheap on the server side.
"""
