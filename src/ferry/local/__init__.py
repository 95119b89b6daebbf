"""The local debug loop: a deployment's YAML resolved into a run in this process, no server.

* :mod:`.plan`: the YAML's model, code, variables, secrets and arguments as a
  :class:`~ferry.runtime.local.LocalPlan`;
* :mod:`.launch`: run the plan here, or re-execute it under the deployment's interpreter.

The running itself is :mod:`ferry.runtime.local` (standard library only).
"""
