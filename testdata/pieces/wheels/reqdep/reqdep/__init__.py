"""The requirements group's dependency."""


def add(a, b):
    return a + b


def greet(name):
    return "hello " + name
