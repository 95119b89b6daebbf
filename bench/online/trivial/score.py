"""The trivial scoring script both servers run: parse the JSON body, return a small list."""

import json


def init():
    pass


def run(raw):
    data = json.loads(raw)
    values = data["data"]
    return [len(values), sum(values), "ok"]
