from setuptools import setup

setup(
    name="mypkg",
    version="0.2",
    packages=["mypkg"],
    install_requires=["binderdep>=2.0"],
)
