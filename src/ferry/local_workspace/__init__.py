"""The local workspace seen from outside: where its files live (``layout``) and how its server
process is started, stopped and found (``launcher``). Standard library only: clients stay light."""
