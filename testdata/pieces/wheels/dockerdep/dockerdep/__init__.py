"""The Dockerfile group's dependency."""


def answer():
    return "dockerdep says 42"
